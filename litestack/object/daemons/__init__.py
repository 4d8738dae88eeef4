"""The storage servers' background daemons, one module each, as Swift's: the replicator
(``replicator.py``), the auditor (``auditor.py``) and the expirer (``expirer.py``). The object
updater (async pending) is part of the storage server (``server/app.py``). They run as tasks of
every storage server, in ``litestack up`` and in each ``litestack agent object-storage``."""
