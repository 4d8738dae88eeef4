"""The ``litestack`` command."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

from litestack import __version__
from litestack.common import config

STANDARD_PORTS = {"identity": 5000}


def _conf(args: argparse.Namespace) -> config.Config:
    overrides: dict[str, dict[str, object]] = {"DEFAULT": {}}
    for name in ("host", "port", "data_dir", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides["DEFAULT"][name] = value
    path = Path(args.config) if getattr(args, "config", None) else None
    return config.load(path, overrides=overrides)


def _data_dir(conf: config.Config) -> Path:
    return Path(conf.get("DEFAULT", "data_dir")).expanduser().resolve()


def cmd_up(args: argparse.Namespace) -> int:
    from litestack.cli.cloud import run

    conf = _conf(args)
    return run(conf, _data_dir(conf))


def cmd_serve(args: argparse.Namespace) -> int:
    from litestack.cli.cloud import run

    if args.port is None:
        args.port = STANDARD_PORTS[args.service]
    conf = _conf(args)
    conf = conf.with_overrides({"DEFAULT": {"services": [args.service]}})
    return run(conf, _data_dir(conf), standalone=args.service)


def cmd_status(args: argparse.Namespace) -> int:
    conf = _conf(args)
    state_file = _data_dir(conf) / "state.json"
    if not state_file.exists():
        print(f"not running (no {state_file})")
        return 3
    state = json.loads(state_file.read_text())
    print(f"pid:       {state['pid']}")
    print(f"endpoint:  {state['url']}")
    print(f"auth_url:  {state['auth_url']}")
    print(f"services:  {', '.join(state['services'])}")
    print(f"clouds:    {_data_dir(conf) / 'clouds.yaml'}")
    try:
        with urllib.request.urlopen(state["url"] + "/healthcheck", timeout=5) as r:  # noqa: S310
            health = json.loads(r.read())
    except OSError as exc:
        print(f"health:    unreachable ({exc})")
        return 1
    print(f"health:    {health['status']}")
    for svc, st in health.get("services", {}).items():
        print(f"  {svc}: {st}")
    return 0 if health["status"] == "ok" else 1


def cmd_policy_dump(args: argparse.Namespace) -> int:
    from litestack.common.policy import Enforcer

    if args.service != "identity":
        print(f"unknown service {args.service}", file=sys.stderr)
        return 2
    from litestack.identity.policy import RULES

    enforcer = Enforcer(RULES, args.policy_file)
    if args.effective:
        import yaml

        print(yaml.safe_dump(enforcer.dump_effective(), sort_keys=False), end="")
    else:
        print(enforcer.dump_defaults(), end="")
    return 0


def cmd_rotate_credential_keys(args: argparse.Namespace) -> int:
    from litestack.common import db as dbmod
    from litestack.identity.manager import Manager
    from litestack.identity.models import Base

    conf = _conf(args)
    data_dir = _data_dir(conf)
    db = dbmod.Database(dbmod.service_url(conf.get("DEFAULT", "database_url"), "identity", data_dir))
    try:
        dbmod.upgrade(db, "litestack.identity.migrations", Base)
        mgr = Manager(db, conf, data_dir)
        try:
            # Everything is first re-encrypted with the current primary (the key that rotation keeps
            # as a secondary), then the keys rotate, then everything moves to the new primary: no
            # secret is ever left under a key that a rotation drops.
            mgr.reencrypt_secrets()
            assert mgr.credential_keys is not None
            primary = mgr.credential_keys.rotate()
            count = mgr.reencrypt_secrets()
        finally:
            mgr.close()
    finally:
        db.dispose()
    print(f"rotated: credential key {primary} is now primary; {count} stored secrets re-encrypted with it")
    return 0


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from litestack.identity.keys import KeyRepository

    conf = _conf(args)
    data_dir = _data_dir(conf)
    for name in ("fernet-keys", "fernet-receipts"):  # token keys, then auth-receipt keys
        repo = KeyRepository(data_dir / name, conf.get("identity", "max_active_keys"))
        if not repo.exists():
            repo.setup()
        primary = repo.rotate()
        print(f"rotated: key {primary} is now primary; {len(repo.load())} keys in {repo.path}")
    return 0


def cmd_config_sample(args: argparse.Namespace) -> int:
    print(config.sample())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from litestack.cli.verify import verify

    conf = _conf(args)
    return verify(_data_dir(conf), list_file=args.list, regex=args.regex, concurrency=args.concurrency,
                  cloud=args.os_cloud)


def _common(p: argparse.ArgumentParser, server: bool = False) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML configuration file (see `litestack config sample`)")
    p.add_argument("--data-dir", dest="data_dir", metavar="DIR",
                   help="state directory (default: ./data, or [DEFAULT] data_dir)")
    if server:
        p.add_argument("--host", metavar="H", help="listen address (default 127.0.0.1)")
        p.add_argument("--port", metavar="P", type=int, help="listen port")
        p.add_argument("--workers", metavar="N", type=int,
                       help="API worker processes sharing the port (default 1)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="litestack",
        description="litestack: an OpenStack-compatible cloud. `litestack up` runs the all-in-one cloud; "
                    "the real openstack CLI and openstacksdk work against it unchanged.")
    ap.add_argument("--version", action="version", version=f"litestack {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("up", help="run the all-in-one cloud in the foreground",
                       description="Run every enabled API on one address (default http://127.0.0.1:8800) "
                                   "with state in --data-dir. Ctrl-C or SIGTERM stops it cleanly.")
    _common(p, server=True)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("serve", help="run one service's API standalone on its standard port",
                       description="Run one API on its standard port (identity: 5000).")
    p.add_argument("service", choices=sorted(STANDARD_PORTS))
    _common(p, server=True)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("status", help="show what runs, its endpoints and health")
    _common(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("verify", help="run OpenStack's tempest tests against the running cloud",
                       description="Install tempest into DIR/tempest (first use only), write a tempest.conf "
                                   "that fits the running cloud, run the chosen tests and print "
                                   "passed/failed/skipped counts.")
    _common(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--list", metavar="FILE", help="file with one tempest test id per line (# comments ok)")
    g.add_argument("--regex", metavar="R", help="tempest test regex")
    p.add_argument("--concurrency", type=int, default=2, help="parallel tempest workers (default 2)")
    p.add_argument("--os-cloud", default="litestack-admin", help="admin cloud in clouds.yaml")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("policy", help="policy tools")
    psub = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    d = psub.add_parser("dump", help="print a service's default policy as commented YAML")
    d.add_argument("service", help="service name, e.g. identity")
    d.add_argument("--policy-file", help="apply this override file")
    d.add_argument("--effective", action="store_true", help="print the rules in force after overrides")
    d.set_defaults(func=cmd_policy_dump)

    p = sub.add_parser("identity", help="identity service tools")
    isub = p.add_subparsers(dest="identity_command", metavar="ACTION", required=True)
    r = isub.add_parser("rotate-keys", help="rotate the fernet token and auth-receipt keys (staged becomes primary)")
    _common(r)
    r.set_defaults(func=cmd_rotate_keys)
    r = isub.add_parser("rotate-credential-keys",
                        help="rotate the keys that encrypt stored secrets (credential blobs, OAuth1 consumer "
                             "secrets, domain configuration passwords) and re-encrypt them all with the new "
                             "primary key; safe while the cloud runs")
    _common(r)
    r.set_defaults(func=cmd_rotate_credential_keys)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    s = csub.add_parser("sample", help="print a documented sample configuration file")
    s.set_defaults(func=cmd_config_sample)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except config.ConfigError as exc:
        print(f"litestack: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
