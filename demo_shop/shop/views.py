"""The shop's API: products, session and JWT login, cart, checkout and orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.models import User
from django.db import OperationalError, connection, transaction
from django.db.models import F, QuerySet
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.permissions import AllowAny, BasePermission, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from demo_shop.faults import faults

from .models import Cart, CartItem, Order, OrderItem, Product
from .serializers import (
    CartItemCreateSerializer,
    CartItemUpdateSerializer,
    CartSerializer,
    CsrfSerializer,
    DetailSerializer,
    LoginSerializer,
    OrderSerializer,
    ProductSerializer,
    UserSerializer,
)

_ERRORS = {
    400: OpenApiResponse(DetailSerializer, description="Invalid input"),
    401: OpenApiResponse(DetailSerializer, description="Not authenticated"),
    403: OpenApiResponse(DetailSerializer, description="Not allowed"),
    404: OpenApiResponse(DetailSerializer, description="Not found"),
    409: OpenApiResponse(DetailSerializer, description="Not enough stock"),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: _ERRORS[code] for code in codes}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class InjectedFault(RuntimeError):
    """Raised on purpose by the checkout_errors fault."""


# --- authentication -------------------------------------------------------------------------------------------


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfView(APIView):
    """Set the ``csrftoken`` cookie that session login and session writes send back as ``X-CSRFToken``."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: CsrfSerializer}, auth=[])
    def get(self, request: Request) -> Response:
        return Response({"csrfToken": get_token(request)})


class SessionLoginView(APIView):
    """Log in with username and password; the session cookie authenticates later requests."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: UserSerializer, **_errors(400, 401, 403)}, auth=[])
    def post(self, request: Request) -> Response:
        # Like any form login, this one needs the CSRF cookie and header (GET /api/auth/csrf/ first).
        SessionAuthentication().enforce_csrf(request)
        credentials = LoginSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=credentials.validated_data["username"],
            password=credentials.validated_data["password"],
        )
        if user is None:
            raise AuthenticationFailed("Invalid username or password.")
        login(request._request, user)
        return Response(UserSerializer(user).data)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Session realm="api"'


class SessionLogoutView(APIView):
    @extend_schema(request=None, responses={204: None, **_errors(401, 403)})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: UserSerializer, **_errors(401)})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


# --- products -------------------------------------------------------------------------------------------------


class ProductWritePermission(BasePermission):
    """Anyone reads the catalogue; only staff add to it (unless the open_write fault is on)."""

    def has_permission(self, request: Request, view: object) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS") or faults.is_active("open_write"):
            return True
        return IsAdminUser().has_permission(request, view)  # type: ignore[arg-type]


@extend_schema_view(
    list=extend_schema(responses={200: ProductSerializer(many=True), **_errors(404)}),
    create=extend_schema(responses={201: ProductSerializer, **_errors(400, 401, 403)}),
)
class ProductViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Product]
):
    serializer_class = ProductSerializer
    permission_classes = [ProductWritePermission]
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Product]:
        products = Product.objects.all()
        if self.action == "list" and faults.is_active("n_plus_one"):
            return products  # the serializer then fetches each product's category on its own
        return products.select_related("category")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if faults.is_active("slow_products"):
            from django.conf import settings

            with connection.cursor() as cursor:
                cursor.execute("SELECT SLEEP(%s)", [settings.DEMO_SLOW_SECONDS])
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: ProductSerializer, **_errors(404)})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        if faults.is_active("schema_drift"):
            data = dict(response.data)
            data["price"] = float(data["price"])
            data["stock"] = str(data["stock"])
            response.data = data
        return response


# --- writes ---------------------------------------------------------------------------------------------------

T = TypeVar("T")
MYSQL_DEADLOCK = 1213  # ER_LOCK_DEADLOCK: "Deadlock found when trying to get lock; try restarting transaction"
TRANSACTION_ATTEMPTS = 3


def in_transaction(work: Callable[[], T]) -> T:
    """``work()`` in one transaction, restarted when MySQL/MariaDB picked it as a deadlock's victim.

    InnoDB resolves a deadlock by rolling one transaction back with error 1213 and asks the client to run it again
    (MySQL manual, "How to Minimize and Handle Deadlocks"); shoppers adding items while others check out the same
    products meet it on small tables, where a statement scans rows another transaction holds. Up to
    ``TRANSACTION_ATTEMPTS`` runs; any other error, or a deadlock inside an outer transaction (which only the outer
    one can restart), is raised as it is. SQLite's counterpart, a lock upgrade refused as "database is locked", is
    avoided by starting transactions IMMEDIATE (demo_shop/settings.py).
    """
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as error:
            deadlock = bool(error.args) and error.args[0] == MYSQL_DEADLOCK
            if not deadlock or attempt == TRANSACTION_ATTEMPTS or connection.in_atomic_block:
                raise
    raise AssertionError("unreachable")  # the last attempt returns or raises


# --- cart -----------------------------------------------------------------------------------------------------


def _cart_of(request: Request) -> Cart:
    cart, _ = Cart.objects.get_or_create(user=request.user)
    return cart


def _cart_response(cart: Cart, code: int = status.HTTP_200_OK) -> Response:
    cart = Cart.objects.prefetch_related("items__product").get(pk=cart.pk)
    return Response(CartSerializer(cart).data, status=code)


class CartView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: CartSerializer, **_errors(401)})
    def get(self, request: Request) -> Response:
        return _cart_response(_cart_of(request))


class CartItemsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=CartItemCreateSerializer, responses={201: CartSerializer, **_errors(400, 401, 403)})
    def post(self, request: Request) -> Response:
        """Add a product to the cart; adding one that is already there raises its quantity."""
        payload = CartItemCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        product: Product = payload.validated_data["product"]
        quantity: int = payload.validated_data["quantity"]
        cart = _cart_of(request)

        def add() -> None:
            item, created = CartItem.objects.select_for_update().get_or_create(
                cart=cart, product=product, defaults={"quantity": quantity}
            )
            if not created:
                item.quantity += quantity
            _check_quantity(product, item.quantity)
            item.save()

        in_transaction(add)
        return _cart_response(cart, status.HTTP_201_CREATED)


class CartItemDetailView(APIView):
    permission_classes = [IsAuthenticated]

    def _item(self, request: Request, item_id: int) -> CartItem:
        # Someone else's item is "not found", never "forbidden": ids must not leak.
        return get_object_or_404(CartItem.objects.select_related("product"), pk=item_id, cart__user=request.user)

    @extend_schema(request=CartItemUpdateSerializer, responses={200: CartSerializer, **_errors(400, 401, 403, 404)})
    def patch(self, request: Request, item_id: int) -> Response:
        item = self._item(request, item_id)
        payload = CartItemUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        _check_quantity(item.product, payload.validated_data["quantity"])
        item.quantity = payload.validated_data["quantity"]
        item.save(update_fields=["quantity"])
        return _cart_response(item.cart)

    @extend_schema(responses={200: CartSerializer, **_errors(401, 403, 404)})
    def delete(self, request: Request, item_id: int) -> Response:
        item = self._item(request, item_id)
        cart = item.cart
        item.delete()
        return _cart_response(cart)


def _check_quantity(product: Product, quantity: int) -> None:
    from rest_framework.exceptions import ValidationError

    if quantity > product.stock:
        raise ValidationError({"quantity": [f"Only {product.stock} of {product.sku} in stock."]})


# --- checkout and orders --------------------------------------------------------------------------------------


class CheckoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: OrderSerializer, **_errors(400, 401, 403, 409)})
    def post(self, request: Request) -> Response:
        """Turn the cart into an order, take the stock and empty the cart, all or nothing."""
        if faults.is_active("checkout_errors"):
            raise InjectedFault("checkout_errors fault is on")
        cart = _cart_of(request)
        order = in_transaction(lambda: _place_order(cart))
        order = Order.objects.prefetch_related("items").get(pk=order.pk)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


def _place_order(cart: Cart) -> Order:
    """The cart's items as an order, their stock taken and the cart emptied; run in one transaction."""
    items = list(cart.items.select_related("product").select_for_update().order_by("product_id"))
    if not items:
        from rest_framework.exceptions import ValidationError

        raise ValidationError({"detail": "The cart is empty."})
    for item in items:
        updated = Product.objects.filter(pk=item.product_id, stock__gte=item.quantity).update(
            stock=F("stock") - item.quantity
        )
        if not updated:
            raise Conflict(f"Not enough stock for {item.product.sku}.")
    order = Order.objects.create(user=cart.user, total=sum(item.subtotal for item in items))
    OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            product=item.product,
            product_name=item.product.name,
            quantity=item.quantity,
            unit_price=item.product.price,
        )
        for item in items
    )
    cart.items.all().delete()
    return order


@extend_schema_view(
    list=extend_schema(responses={200: OrderSerializer(many=True), **_errors(401, 404)}),
    retrieve=extend_schema(responses={200: OrderSerializer, **_errors(401, 404)}),
    destroy=extend_schema(responses={204: None, **_errors(401, 404)}),
)
class OrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[Order]
):
    """A user's own orders. Deleting one cancels it and puts its stock back."""

    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        # IsAuthenticated has run: the user is a real one here.
        return Order.objects.filter(user=cast(User, self.request.user)).prefetch_related("items")

    def perform_destroy(self, instance: Order) -> None:
        def cancel() -> None:
            for item in instance.items.all():
                Product.objects.filter(pk=item.product_id).update(stock=F("stock") + item.quantity)
            instance.delete()

        in_transaction(cancel)
