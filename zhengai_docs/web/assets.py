"""Static files served like a production site: content-hashed names, gzip copies, cached for a year.

Every file under `web/static/` is copied once into a cache folder under a name that carries its
content hash (`app.css` -> `app.3f2a9c01d4e5.css`) with a gzip copy beside it, and WhiteNoise
serves that folder with `Cache-Control: max-age=31536000, immutable`: a browser fetches each
version once, compressed. Pages link the hashed names through `asset_url()`. The cache folder
is shared safely by several processes (files are written under temporary names and renamed) and
keeps earlier versions, so a page rendered before an upgrade still finds its files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from pathlib import Path

from whitenoise import WhiteNoise

COMPRESSIBLE = frozenset({".js", ".css", ".svg", ".txt", ".json", ".map"})
YEAR = 365 * 24 * 3600


class Assets:
    """The hashed name of every static file, and the cache folder that holds them."""

    def __init__(self, *, source: Path, cache: Path) -> None:
        self.source = source
        self.cache = cache
        self.names: dict[str, str] = {}

    def build(self) -> Assets:
        """Hash every static file; copy (and compress) the versions the cache does not have yet."""
        self.cache.mkdir(parents=True, exist_ok=True)
        for path in sorted(p for p in self.source.rglob("*") if p.is_file()):
            relative = path.relative_to(self.source).as_posix()
            data = path.read_bytes()
            hashed = _hashed_name(relative, hashlib.sha256(data).hexdigest()[:12])
            self.names[relative] = hashed
            target = self.cache / hashed
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(target, data)
            if path.suffix in COMPRESSIBLE and not Path(f"{target}.gz").exists():
                _write_atomically(Path(f"{target}.gz"), gzip.compress(data, compresslevel=9, mtime=0))
        return self

    def url_name(self, filename: str) -> str:
        """The hashed name to link (an unknown name is returned as it is: Flask's static route answers)."""
        return self.names.get(filename, filename)

    def middleware(self, app: object, *, prefix: str) -> WhiteNoise:
        """WhiteNoise over the cache: hashed names never change, so they are cached as immutable."""
        return WhiteNoise(app, root=str(self.cache), prefix=prefix, max_age=YEAR, immutable_file_test=lambda _path, _url: True)


def _hashed_name(relative: str, digest: str) -> str:
    """'vendor/mermaid-11.17.2.min.js' -> 'vendor/mermaid-11.17.2.min.<digest>.js' (the last suffix stays last)."""
    path = Path(relative)
    return path.with_name(f"{path.stem}.{digest}{path.suffix}").as_posix()


def _write_atomically(target: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

