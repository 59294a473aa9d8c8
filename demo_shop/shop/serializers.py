from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Cart, CartItem, Category, Order, OrderItem, Product

MAX_QUANTITY = 99


class CategorySerializer(serializers.ModelSerializer[Category]):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class ProductSerializer(serializers.ModelSerializer[Product]):
    category = CategorySerializer(read_only=True)
    category_id = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), source="category", write_only=True
    )

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "description", "price", "stock", "category", "category_id"]


class ProductSummarySerializer(serializers.ModelSerializer[Product]):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price"]


class CartItemSerializer(serializers.ModelSerializer[CartItem]):
    product = ProductSummarySerializer(read_only=True)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = CartItem
        fields = ["id", "product", "quantity", "subtotal"]


class CartSerializer(serializers.ModelSerializer[Cart]):
    items = CartItemSerializer(many=True, read_only=True)
    item_count = serializers.IntegerField(read_only=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Cart
        fields = ["id", "items", "item_count", "total"]


class CartItemCreateSerializer(serializers.Serializer[CartItem]):
    product_id = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), source="product")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)


class CartItemUpdateSerializer(serializers.Serializer[CartItem]):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderItemSerializer(serializers.ModelSerializer[OrderItem]):
    product_id = serializers.IntegerField(read_only=True)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = OrderItem
        fields = ["product_id", "product_name", "quantity", "unit_price", "subtotal"]


class OrderSerializer(serializers.ModelSerializer[Order]):
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["id", "total", "created_at", "items"]


class UserSerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "is_staff"]


class LoginSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"}, write_only=True)


class DetailSerializer(serializers.Serializer[Any]):
    """The error body DRF answers with: ``{"detail": "..."}``."""

    detail = serializers.CharField()


class CsrfSerializer(serializers.Serializer[Any]):
    csrfToken = serializers.CharField()
