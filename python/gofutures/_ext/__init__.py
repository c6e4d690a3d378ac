"""The compiled Go extension (``_gonative``), built by pybuild at install time.

Nothing here is imported by ``import gofutures``: gofutures._native loads the
extension on first use, so that importing gofutures starts no Go runtime.
"""
