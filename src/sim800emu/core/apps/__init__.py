"""The module's own applications on top of the IP stack: the bearer
profiles (AT+SAPBR), the HTTP client and the FTP client. Each is a sans-I/O
object held by the modem; its command module drives it."""
