"""The FTP application (manual chapter 12)."""
