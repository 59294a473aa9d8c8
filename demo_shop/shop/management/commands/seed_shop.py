"""``seed_shop``: the catalogue and the probe user the synthetic workflows log in as. Safe to run again."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from demo_shop.shop.models import Category, Product

CATEGORIES = [("Coffee", "coffee"), ("Tea", "tea"), ("Brewing", "brewing"), ("Cups", "cups")]
ADJECTIVES = ["Bright", "Dark", "Smooth", "Bold", "Gentle", "Wild", "Classic", "Spiced"]


def catalogue() -> list[dict[str, Any]]:
    """A fixed catalogue: the same products, prices and stock on every run."""
    products = []
    for index in range(32):
        slug = CATEGORIES[index % len(CATEGORIES)][1]
        adjective = ADJECTIVES[index % len(ADJECTIVES)]
        products.append(
            {
                "sku": f"{slug[:3].upper()}-{index + 1:03d}",
                "name": f"{adjective} {CATEGORIES[index % len(CATEGORIES)][0]} No. {index + 1}",
                "description": f"Demo product {index + 1} in {slug}.",
                "price": Decimal(4 + (index * 7) % 40) + Decimal("0.99"),
                "stock": 1000 + index,
                "category_slug": slug,
            }
        )
    return products


class Command(BaseCommand):
    help = (
        "Create the demo catalogue and the probe users. The password comes from the environment "
        "variable named by --password-env (default DEMO_PROBE_PASSWORD); the usernames from --username "
        "(repeatable; default $DEMO_PROBE_USER or 'probe', and 'probe-checkout')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # Two users by default: the cart and checkout journeys run at the same time and must not share a cart.
        parser.add_argument("--username", action="append", dest="usernames")
        parser.add_argument("--password-env", default="DEMO_PROBE_PASSWORD")
        parser.add_argument("--staff", action="store_true", help="make the user staff (may add products)")

    @transaction.atomic
    def handle(self, *args: Any, usernames: list[str] | None, password_env: str, staff: bool, **options: Any) -> None:
        usernames = usernames or [os.environ.get("DEMO_PROBE_USER", "probe"), "probe-checkout"]
        password = os.environ.get(password_env)
        if not password:
            raise CommandError(f"set {password_env} to the probe user's password; it is never stored in code")
        categories = {
            slug: Category.objects.update_or_create(slug=slug, defaults={"name": name})[0] for name, slug in CATEGORIES
        }
        created = 0
        for item in catalogue():
            _, was_created = Product.objects.update_or_create(
                sku=item["sku"],
                defaults={
                    "name": item["name"],
                    "description": item["description"],
                    "price": item["price"],
                    "stock": item["stock"],
                    "category": categories[item["category_slug"]],
                },
            )
            created += was_created
        for username in usernames:
            user, _ = get_user_model().objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = staff
            user.save()
        self.stdout.write(
            f"seeded {len(catalogue())} products ({created} new) and user(s) {', '.join(map(repr, usernames))}"
            + (" (staff)" if staff else "")
        )
