"""`sarclear demo`: the whole method on synthetic data, through the real subcommands, in minutes."""
