from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework_simplejwt import serializers as simplejwt

from utils.strict import StrictFieldsMixin, StrictModelSerializer, StrictSerializer

User = get_user_model()


class RegisterSerializer(StrictModelSerializer):
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    class Meta:
        model = User
        fields = ["id", "username", "email", "password"]
        read_only_fields = ["id"]

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": exc.messages}) from None
        return attrs


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(max_length=2048)


class LogoutSerializer(StrictSerializer):
    refresh = serializers.CharField(max_length=2048, required=False)


class TokenObtainPairSerializer(StrictFieldsMixin, simplejwt.TokenObtainPairSerializer):
    """simplejwt's credentials check (SIMPLE_JWT['TOKEN_OBTAIN_SERIALIZER']), strict; named as
    simplejwt's, so the OpenAPI components keep their names."""


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)
