"""A FunctionGraph function that counts page hits in a database, through a connection pool.

Configuration (user data): DB_PATH (an sqlite file path or ``file:`` URI), POOL_SIZE (default
2), DB_USER (default ``app``); encrypted user data: DB_PASSWORD.

Entries: initializer ``index.init``, handler ``index.handler``.
"""

import os

import pool

POOL = None  # set once per instance by init()
REQUESTS = 0  # requests this instance served (module globals live as long as the instance)


def init(context):
    global POOL
    log = context.getLogger()
    db_path = context.getUserData("DB_PATH")
    if not db_path:
        raise RuntimeError("DB_PATH is not configured")
    size = int(context.getUserData("POOL_SIZE", "2"))
    user = context.getUserData("DB_USER", "app")
    new_pool = pool.Pool.open(
        db_path, size=size, user=user, password=context.getUserData("DB_PASSWORD")
    )
    with new_pool.connection() as conn, conn:
        conn.execute(pool.SCHEMA)
    POOL = new_pool
    log.info("pool ready: %d connections to %s as %s", size, db_path, user)


def handler(event, context):
    global REQUESTS
    if POOL is None:
        raise RuntimeError("the initializer did not run on this instance")
    REQUESTS += 1
    action = event.get("action", "hit")
    page = event.get("page", "home")
    if action == "config":
        return {
            "db_path": context.getUserData("DB_PATH"),
            "pool_size": POOL.size,
            "user": POOL.user,
            "env_db_path": os.environ.get("DB_PATH"),
            "password_in_environ": "DB_PASSWORD" in os.environ,
        }
    with POOL.connection() as conn:
        if action == "hit":
            with conn:  # one transaction
                conn.execute(
                    "INSERT INTO hits (page, n) VALUES (?, 1) "
                    "ON CONFLICT (page) DO UPDATE SET n = n + 1",
                    (page,),
                )
        elif action != "get":
            raise ValueError(f"unknown action {action!r}")
        row = conn.execute("SELECT n FROM hits WHERE page = ?", (page,)).fetchone()
    hits = row[0] if row else 0
    context.getLogger().info("%s %s -> %d", action, page, hits)
    return {
        "page": page,
        "hits": hits,
        "instance_requests": REQUESTS,
        "pool": POOL.stats(),
    }
