"""`python -m sarclear` (also what `torchrun -m sarclear train ...` runs)."""

from sarclear.cli import entry

if __name__ == "__main__":
    entry()
