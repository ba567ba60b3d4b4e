from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from accounts import cookies, services
from accounts.schema import BodyOnDeleteSchema
from accounts.selectors import learner_of
from accounts.serializers import (
    SESSION_COOKIE,
    AccountSerializer,
    LogoutSerializer,
    PasswordChangeSerializer,
    PasswordConfirmSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
)
from utils.params import validated_query
from utils.schema import ErrorSerializer
from utils.strict import NoFields, validated

User = get_user_model()

NO_CONTENT = {204: OpenApiResponse(description="Done; no body.")}
GONE_404 = {404: OpenApiResponse(ErrorSerializer, description="The account no longer exists.")}
COOKIE_403 = {403: OpenApiResponse(description="The refresh cookie was sent from an origin the API does not trust.")}


class RegisterApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(request=RegisterSerializer, responses={201: RegisterSerializer})
    def post(self, request):
        user = services.user_register(**validated(RegisterSerializer, request.data))
        return Response(RegisterSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(TokenObtainPairView):
    authentication_classes = []
    throttle_scope = "auth"
    serializer_class = TokenObtainSerializer

    @extend_schema(
        request=TokenObtainSerializer,
        responses={200: TokenPairSerializer, **COOKIE_403},
        description="`username` takes a username or an email (an identifier with `@` is an email). "
        '`"session": "cookie"` (browsers): the refresh token comes as an HttpOnly cookie, not in the body.',
    )
    def post(self, request):
        data = validated(TokenObtainSerializer, request.data, context={"request": request})
        in_cookie = data["session"] == SESSION_COOKIE
        if in_cookie:
            cookies.check_origin(request)
        return cookies.answer({"access": data["access"], "refresh": data["refresh"]}, in_cookie=in_cookie)


class TokenRefreshApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    def get_authenticate_header(self, request) -> str:
        # Note: without it DRF turns a rejected refresh token into 403; it is a 401 like any bad token.
        return 'Bearer realm="api"'

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **COOKIE_403},
        description="The refresh token from the body, or else from the browser session's cookie (then the "
        "new one is set as the cookie). A refresh token presented twice ends every session of its sign-in.",
    )
    def post(self, request):
        raw = validated(RefreshSerializer, request.data).get("refresh")
        self.in_cookie = raw is None
        if self.in_cookie:
            raw = cookies.read(request)
        if raw is None:
            raise ValidationError({"refresh": ["Send the refresh token, or the browser session's cookie."]})
        return cookies.answer(services.token_refresh(raw_refresh=raw), in_cookie=self.in_cookie)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_401_UNAUTHORIZED and getattr(self, "in_cookie", False):
            cookies.clear(response)  # Note: a dead cookie would only be sent again to be refused again
        return response


class LogoutApi(APIView):
    @extend_schema(request=LogoutSerializer, responses={**NO_CONTENT, **COOKIE_403})
    def post(self, request):
        raw = validated(LogoutSerializer, request.data).get("refresh") or cookies.read(request)
        services.user_logout(user_id=request.user.id, access=request.auth, raw_refresh=raw)
        return cookies.clear(Response(status=status.HTTP_204_NO_CONTENT))


class MeApi(APIView):
    """The signed-in user's own account."""

    schema = BodyOnDeleteSchema()

    @property
    def throttle_scope(self) -> str | None:
        # Note: a deletion checks the password, like a login: the same per-IP limit on guesses.
        return "auth" if self.request.method == "DELETE" else None

    def _user(self):
        user = get_object_or_404(User, pk=self.request.user.id)
        user.learner = learner_of(user_id=user.pk)
        return user

    @extend_schema(responses={200: AccountSerializer, **GONE_404})
    def get(self, request):
        validated_query(NoFields, request)
        return Response(AccountSerializer(self._user()).data)

    @extend_schema(request=AccountSerializer, responses={200: AccountSerializer, **GONE_404})
    def patch(self, request):
        user = self._user()
        changes = validated(AccountSerializer, request.data, instance=user, partial=True)
        return Response(AccountSerializer(services.account_update(user=user, changes=changes)).data)

    @extend_schema(
        request=PasswordConfirmSerializer,
        responses={**NO_CONTENT, **GONE_404},
        description="Deletes the account and all its data; the password confirms it.",
    )
    def delete(self, request):
        password = validated(PasswordConfirmSerializer, request.data)["password"]
        services.account_delete(user=self._user(), password=password)
        return cookies.clear(Response(status=status.HTTP_204_NO_CONTENT))


class PasswordChangeApi(APIView):
    throttle_scope = "auth"

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer, **COOKIE_403, **GONE_404},
        description="Ends every session, this one included, and answers a new pair (the refresh token "
        "as the cookie when the call came with the browser session's cookie).",
    )
    def post(self, request):
        data = validated(PasswordChangeSerializer, request.data)
        in_cookie = cookies.read(request) is not None
        user = get_object_or_404(User, pk=request.user.id)
        return cookies.answer(services.password_change(user=user, **data), in_cookie=in_cookie)


class PasswordResetApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(
        request=PasswordResetSerializer,
        responses=NO_CONTENT,
        description="Mails a reset token to the account with this email. Always 204, whether or not one has it.",
    )
    def post(self, request):
        services.password_reset_request(**validated(PasswordResetSerializer, request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetConfirmApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses=NO_CONTENT,
        description="Sets the new password with the mailed uid and token; every session of the account ends.",
    )
    def post(self, request):
        services.password_reset_confirm(**validated(PasswordResetConfirmSerializer, request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)
