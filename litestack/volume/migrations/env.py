from litestack.common.migrations.env import run

run()
