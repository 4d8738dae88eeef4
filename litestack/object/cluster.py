"""The cluster's shared settings, kept once in ``DATA_DIR/object/cluster.json`` (0600): the secret
storage servers require from the proxy, and the hash path prefix and suffix that place names on
partitions (Swift's ``swift_hash_path_prefix``/``suffix``). Both are made once, at the first start,
and never change: a new prefix would move every object."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cluster:
    secret: str
    hash_prefix: str
    hash_suffix: str


def cluster_file(data_dir: Path) -> Path:
    return data_dir / "object" / "cluster.json"


def ring_file(data_dir: Path) -> Path:
    return data_dir / "object" / "object.ring.gz"


def load_or_create(path: Path) -> Cluster:
    if path.exists():
        data = json.loads(path.read_text())
        return Cluster(data["secret"], data["hash_prefix"], data["hash_suffix"])
    path.parent.mkdir(parents=True, exist_ok=True)
    made = Cluster(secrets.token_hex(32), secrets.token_hex(8), secrets.token_hex(8))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"secret": made.secret, "hash_prefix": made.hash_prefix, "hash_suffix": made.hash_suffix}, f)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # first writer wins when several processes start at once
    except FileExistsError:
        os.unlink(tmp)
        return load_or_create(path)
    os.unlink(tmp)
    return made
