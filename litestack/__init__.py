"""litestack: an OpenStack-compatible cloud (Infrastructure-as-a-Service) in Python."""

__version__ = "0.1.0"
