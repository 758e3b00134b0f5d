"""Small, dependency-free building blocks for self-contained HTML reports (evaluate, demo)."""
