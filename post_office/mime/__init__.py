"""MIME parts: the part, building and its checks, rendering, the transfer encoders and
decoders (pure: no I/O)."""
