"""The ``litestack`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from litestack import __version__
from litestack.common import config
from litestack.common import service as registry
from litestack.common.errors import StartupError


def _conf(args: argparse.Namespace) -> config.Config:
    return config.from_args(args)


def _data_dir(conf: config.Config) -> Path:
    return config.data_dir(conf)


def _builtin() -> registry.Registry:
    """The services known before any configuration file is read (built-in, plus plugins named in
    the environment): enough to build the command line."""
    plugins = os.environ.get("LITESTACK_DEFAULT_SERVICE_PLUGINS", "")
    return registry.registry([p.strip() for p in plugins.split(",") if p.strip()])


def cmd_up(args: argparse.Namespace) -> int:
    from litestack.cli.cloud import run

    conf = _conf(args)
    if getattr(args, "fake_hosts", None) is not None:
        # The compute service's [compute] fake_hosts, the one option `up` takes for a service.
        conf = conf.with_overrides({"compute": {"fake_hosts": args.fake_hosts}})
    return run(conf, _data_dir(conf))


def cmd_serve(args: argparse.Namespace) -> int:
    from litestack.cli.cloud import run

    conf = _conf(args)
    spec = registry.from_config(conf)[args.service]
    if args.port is None:
        conf = conf.with_overrides({"DEFAULT": {"port": spec.port}})
    return run(conf, _data_dir(conf), standalone=spec.name)


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
    for name, url in (state.get("endpoints") or {}).items():
        print(f"  {name}: {url}")
    print(f"clouds:    {_data_dir(conf) / 'clouds.yaml'}")
    try:
        with urllib.request.urlopen(state["url"] + "/healthcheck", timeout=5) as r:  # noqa: S310
            health = json.loads(r.read())
    except urllib.error.HTTPError as exc:  # 503 when degraded: the body says which service
        health = json.loads(exc.read() or b"{}")
    except OSError as exc:
        print(f"health:    unreachable ({exc})")
        return 1
    print(f"health:    {health.get('status', 'unknown')}")
    for svc, st in health.get("services", {}).items():
        print(f"  {svc}: {st}")
    return 0 if health.get("status") == "ok" else 1


def cmd_agent(args: argparse.Namespace) -> int:
    conf = _conf(args)
    rc: int = registry.resolve(args.agent_main)(conf, _data_dir(conf), args)
    return rc


def cmd_policy_dump(args: argparse.Namespace) -> int:
    from litestack.common.policy import Enforcer

    conf = _conf(args)
    try:
        spec = registry.from_config(conf)[args.service]
    except config.ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    enforcer = Enforcer(spec.rules(), args.policy_file)
    if args.effective:
        import yaml

        print(yaml.safe_dump(enforcer.dump_effective(), sort_keys=False), end="")
    else:
        print(enforcer.dump_defaults(), end="")
    return 0


def cmd_config_sample(args: argparse.Namespace) -> int:
    conf = _conf(args)
    print(config.sample(conf.get("DEFAULT", "service_plugins")))
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
    known = _builtin()
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("up", help="run the all-in-one cloud in the foreground",
                       description="Run every enabled API on one address (default http://127.0.0.1:8800) "
                                   "with state in --data-dir. Ctrl-C or SIGTERM stops it cleanly.")
    _common(p, server=True)
    p.add_argument("--fake-hosts", dest="fake_hosts", metavar="N", type=int,
                   help="simulate N compute hosts in this process, each with its own agent and resource "
                        "provider (default 1, [compute] fake_hosts)")
    p.set_defaults(func=cmd_up)

    ports = ", ".join(f"{s.name}: {s.port}" for s in known)
    p = sub.add_parser("serve", help="run one service's API standalone on its standard port",
                       description=f"Run one API alone at the root of its standard port ({ports}).")
    p.add_argument("service", metavar="SERVICE", help=f"one of: {', '.join(known.names())}")
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
    d.add_argument("service", metavar="SERVICE", help=f"one of: {', '.join(known.names())}")
    _common(d)
    d.add_argument("--policy-file", help="apply this override file")
    d.add_argument("--effective", action="store_true", help="print the rules in force after overrides")
    d.set_defaults(func=cmd_policy_dump)

    agents = [(spec, agent) for spec in known for agent in spec.agents]
    if agents:
        p = sub.add_parser("agent", help="run a service's per-host agent in the foreground",
                           description="Run one per-host part of a service (storage server, ...) on this host.")
        asub = p.add_subparsers(dest="agent_kind", metavar="KIND", required=True)
        for spec, agent in agents:
            a = asub.add_parser(agent.kind, help=f"{agent.description} ({spec.name})",
                                description=agent.description)
            a.add_argument("--host", dest="agent_host", required=True, metavar="NAME", help="this host's name")
            _common(a)
            if agent.arguments is not None:
                registry.resolve(agent.arguments)(a)
            a.set_defaults(func=cmd_agent, agent_main=agent.main)

    for spec in known:
        spec.add_cli(sub, _common)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    s = csub.add_parser("sample", help="print a documented sample configuration file")
    _common(s)
    s.set_defaults(func=cmd_config_sample)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except config.ConfigError as exc:
        print(f"litestack: configuration error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"litestack: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
