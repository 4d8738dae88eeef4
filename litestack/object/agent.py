"""``litestack agent object-storage --host NAME --devices DIR``: one host's storage server
(account, container and object servers of the devices under DIR), for multi-host clusters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", required=True, metavar="DIR", help="directory holding this host's devices")
    p.add_argument("--bind", default="127.0.0.1", metavar="ADDR", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6200, metavar="P", help="port to listen on (default 6200)")


def main(conf: Any, data_dir: Path, args: argparse.Namespace) -> int:
    import uvicorn

    from litestack.object.cluster import cluster_file, load_or_create, ring_file
    from litestack.object.server.app import StorageServer
    from litestack.object.service import daemon_settings

    devices = Path(args.devices)
    if not devices.is_dir():
        print(f"litestack: --devices {devices} is not a directory", flush=True)
        return 2
    path = cluster_file(data_dir)
    if not path.exists():
        print(f"litestack: no cluster settings at {path}: run `litestack up` or `litestack object ring create` "
              "there first, or copy that file", flush=True)
        return 2
    cluster = load_or_create(path)
    daemons = daemon_settings(conf, ring_file(data_dir), {(args.bind, args.port)})
    app = StorageServer(devices, cluster.secret, cluster.hash_prefix, cluster.hash_suffix,
                        conf.get("object", "updater_interval"), daemons=daemons)
    print(f"litestack: object storage agent {args.agent_host} serving {devices} on {args.bind}:{args.port}",
          flush=True)
    uvicorn.run(app, host=args.bind, port=args.port, log_level="warning", access_log=False, lifespan="on",
                server_header=False)
    return 0
