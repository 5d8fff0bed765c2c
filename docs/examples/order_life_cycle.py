"""One order's life cycle from Python with psycopg 3, as any front end drives it.

Usage: DATABASE_URL=postgresql://shop@host/cleaning python3 order_life_cycle.py CUSTOMER CLEANER
"""
import os
import sys
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg.types.json import Jsonb


def main() -> None:
    customer, cleaner = int(sys.argv[1]), int(sys.argv[2])
    appointment = datetime.now(timezone.utc) + timedelta(days=3)
    # prepare_threshold=None: no named server-side prepared statements, so this
    # also works through a transaction-pooling PgBouncer.
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None) as db:
        # The app's own rows and the order commit together, or neither does.
        with db.transaction():
            order = db.execute(
                "SELECT platform.book_order(customer_id => %s, service_type_id => 1, address => %s,"
                " latitude => 31.23, longitude => 121.47, appointment_start => %s,"
                " duration_minutes => 180, amount_fen => 15000)",
                (customer, "上海市黄浦区人民路1号", appointment),
            ).fetchone()[0]
        db.execute("SELECT platform.assign_order(%s, %s)", (order, cleaner))
        db.execute("SELECT platform.reschedule_order(%s, %s)", (order, appointment + timedelta(days=1)))
        db.execute("SELECT platform.start_order(%s)", (order,))
        # An illegal step is refused (SQLSTATE 55000, naming the order and its
        # status) and changes nothing.
        try:
            db.execute("SELECT platform.cancel_order(%s)", (order,))
        except psycopg.errors.ObjectNotInPrerequisiteState as refused:
            print("refused:", refused.diag.message_primary)
        db.execute("SELECT platform.complete_order(%s)", (order,))
        db.execute("SELECT platform.review_order(%s, %s, %s)", (order, 5, "准时，干净"))
        # A job of your own, in the same queue the workers serve.
        job = db.execute(
            "SELECT queue.enqueue('tier.upgrade', %s, unique_key => %s)",
            (Jsonb({"customerID": customer}), f"tier-upgrade:{customer}"),
        ).fetchone()[0]
        status = db.execute("SELECT status FROM platform.orders WHERE id = %s", (order,)).fetchone()[0]
        print(f"order {order}: {status}; job {job}")


if __name__ == "__main__":
    main()
