"""The compute service (Nova v2.1): API, conductor, scheduler, per-host compute agents, virt drivers."""
