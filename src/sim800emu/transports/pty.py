"""The virtual serial port: a pseudo-terminal whose slave side the user opens.

* The slave is put in raw mode (no echo, no CR/LF translation, no signals,
  8 data bits), so the line is 8-bit clean even for clients that do not
  configure it themselves.
* We keep our own descriptor to the slave open for the whole life of the
  port: clients can open and close the port as often as they like, and the
  master never sees the EIO/hang-up that follows the last close.
* An optional stable symlink (``--link PATH``) points at the slave. It is
  created atomically (a stale link is replaced) and only when the caller
  says the modem is ready to answer; it is removed on close if it still
  points at our slave.
* A link is owned: the process holds an exclusive ``flock`` on
  ``.<name>.lock`` next to it (holding its pid) for as long as the link is
  its own. A second emulator asking for the same link while the owner runs
  is refused (:class:`LinkInUse`); once the owner is gone, even killed, the
  lock is free and its stale link is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import termios
from pathlib import Path

from .fdline import FdLine

log = logging.getLogger(__name__)


def make_raw(fd: int) -> None:
    """``cfmakeraw`` on ``fd``: 8-bit clean, no echo, no translation, no signals."""
    attrs = termios.tcgetattr(fd)
    iflag, oflag, cflag, lflag = attrs[0], attrs[1], attrs[2], attrs[3]
    iflag &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
        | termios.IXOFF
        | termios.IXANY
    )
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag &= ~(termios.CSIZE | termios.PARENB)
    cflag |= termios.CS8 | termios.CREAD | termios.CLOCAL
    attrs[0], attrs[1], attrs[2], attrs[3] = iflag, oflag, cflag, lflag
    cc = attrs[6]
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class LinkInUse(FileExistsError):
    """The link belongs to a running emulator."""


def _lock_path(link: Path) -> Path:
    return link.with_name(f".{link.name}.lock")


def claim_link(link: Path) -> int:
    """Take ownership of ``link`` (see the module docstring): the locked
    descriptor of its lock file, to keep open as long as the link is ours.
    Raises :class:`LinkInUse` when a running process owns it."""
    lock = _lock_path(link)
    for _attempt in range(5):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {owner})" if owner.isdigit() else ""
            raise LinkInUse(f"{link} is in use by a running emulator{who}") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            current = os.stat(lock).st_ino
        except FileNotFoundError:
            current = -1
        if current == os.fstat(fd).st_ino:  # not removed by its last owner meanwhile
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)
    raise LinkInUse(f"{link}: its lock {lock} keeps changing")


def release_link(link: Path, fd: int) -> None:
    """Give up ``link``'s lock (the file goes, then the lock)."""
    with contextlib.suppress(OSError):
        lock = _lock_path(link)
        if os.stat(lock).st_ino == os.fstat(fd).st_ino:
            lock.unlink()
    with contextlib.suppress(OSError):
        os.close(fd)


class PtyPort:
    """A pty serial port. ``line`` is the ``SerialLine`` for the runner,
    ``path`` the slave device the user opens (e.g. ``/dev/pts/7``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        master, slave = os.openpty()
        try:
            make_raw(slave)
            self.path = os.ttyname(slave)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master = master
        self._slave = slave  # held open for our whole life: no EIO on the master
        self.line = FdLine(master, master, loop=loop, owns_fds=True)
        self.link: Path | None = None
        self._lock_fd = -1

    def create_link(self, link: Path | str) -> Path:
        """Point ``link`` at the slave (atomically replacing a stale symlink).

        Refuses (``FileExistsError``) to replace anything that is not a
        symlink, and (:class:`LinkInUse`) a link a running emulator owns.
        """
        path = Path(link).expanduser()
        if path.exists() and not path.is_symlink():
            raise FileExistsError(f"{path} exists and is not a symlink")
        lock_fd = claim_link(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(self.path, tmp)
            try:
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        except BaseException:
            release_link(path, lock_fd)
            raise
        self.link = path
        self._lock_fd = lock_fd
        return path

    def remove_link(self) -> None:
        path, self.link = self.link, None
        if path is None:
            return
        try:
            if path.is_symlink() and os.readlink(path) == self.path:
                path.unlink()
        except OSError as exc:
            log.warning("cannot remove %s: %s", path, exc)
        fd, self._lock_fd = self._lock_fd, -1
        if fd >= 0:
            release_link(path, fd)

    async def aclose(self, flush_timeout: float = 0.5) -> None:
        """Flush what is pending (bounded), remove the link, close the pty."""
        if not self.line.closed:
            await self.line.drain(flush_timeout)
        self.close()

    def close(self) -> None:
        self.remove_link()
        if self.line.closed:
            return
        self.line.close()  # closes the master
        with contextlib.suppress(OSError):
            os.close(self._slave)
