"""The daemon protocol's version: bumped only by incompatible changes (docs/protocol.md, Versioning)."""

PROTOCOL_VERSION = "1"
