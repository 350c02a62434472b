"""The package's version, in a leaf module every room may import (the root re-exports it)."""

__version__ = "0.1.0"
