"""Thin CLI wrappers, one module per subcommand: `add_arguments(parser)` and `run(args) -> int`.

They parse and call library functions; no logic of their own lives here.
"""
