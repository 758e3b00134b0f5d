"""`python -m sarclear` (also what `torchrun -m sarclear train ...` runs)."""

from sarclear.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
