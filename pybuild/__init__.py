"""Build driver: turns the Go packages into the gofutures extension module."""
