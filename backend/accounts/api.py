"""/api/auth/…: sign-up, e-mail codes, JWT sign-in/refresh/sign-out, and the current user."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django_otp import match_token
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from backend.accounts import forms, services
from backend.accounts.audit import audit_record
from backend.accounts.models import TIMEZONE_NAMES, Theme, User
from backend.core.access import Rule
from backend.core.errors import DomainError, Forbidden

ROLE_STEPS = {
    "learner": [forms.InterestsForm, forms.CareerGoalForm, forms.PhotoForm],
    "mentor": [forms.ExpertiseForm, forms.AboutForm, forms.MediaForm],
}


class UserSerializer(serializers.ModelSerializer):
    approval_state = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "timezone", "theme", "approval_state", "date_joined"]
        read_only_fields = fields

    def get_approval_state(self, user) -> str | None:
        profile = getattr(user, "mentor_profile", None) if user.role == "mentor" else None
        return profile.approval_state if profile else None


def tokens_for(user: User, *, otp: bool = False) -> dict:
    refresh = RefreshToken.for_user(user)
    if otp:
        refresh["otp"] = True  # copied into every access token minted from this refresh token
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class AuthThrottled(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    access_rule = Rule.PUBLIC
    authentication_classes: list = []  # credentials in the body; no session, so no CSRF dance

    def get_authenticate_header(self, request):
        # Without authenticators DRF would turn a bad token into 403; it is a 401.
        return 'Bearer realm="api"'


class EmailCodeView(AuthThrottled):
    throttle_scope = "email_code"

    class EmailCodeInput(serializers.Serializer):
        email = serializers.EmailField()

    @extend_schema(request=EmailCodeInput, responses={202: None})
    def post(self, request):
        data = self.EmailCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise DomainError(
                "email_taken",
                "An account with this e-mail already exists.",
                fields={"email": "An account with this e-mail already exists."},
            )
        services.email_code_send(email=email)
        return Response({"sent": True}, status=status.HTTP_202_ACCEPTED)


class EmailVerifyView(AuthThrottled):
    class EmailVerifyInput(serializers.Serializer):
        email = serializers.EmailField()
        code = serializers.RegexField(r"^\d{6}$")

    @extend_schema(request=EmailVerifyInput, responses={200: dict})
    def post(self, request):
        data = self.EmailVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.email_code_verify(email=data.validated_data["email"], code=data.validated_data["code"])
        return Response({"email_token": token})


def _form_errors(*bound_forms) -> dict[str, str]:
    return {name: str(msgs[0]) for form in bound_forms for name, msgs in form.errors.items()}


class RegisterView(AuthThrottled):
    """One call with everything the wizard collects (multipart when sending files).

    Mentor availability is a JSON list: [{"weekday": 0, "start": "18:00", "end": "21:00"}].
    """

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class Availability(serializers.Serializer):
        weekday = serializers.IntegerField(min_value=0, max_value=6)
        start = serializers.TimeField()
        end = serializers.TimeField()

    class RegisterInput(serializers.Serializer):
        role = serializers.ChoiceField(choices=["learner", "mentor"])
        email_token = serializers.CharField()

    @extend_schema(request=None, responses={201: dict})
    def post(self, request):
        head = self.RegisterInput(data=request.data)
        head.is_valid(raise_exception=True)
        role = head.validated_data["role"]
        basic = forms.BasicInfoForm(request.data)
        step_forms = [form(request.data, request.FILES) for form in ROLE_STEPS[role]]
        valid = all([basic.is_valid()] + [f.is_valid() for f in step_forms])
        windows = []
        if role == "mentor":
            raw = request.data.get("availability")
            if isinstance(raw, str):
                import json

                try:
                    raw = json.loads(raw)
                except ValueError:
                    raw = None
            availability = self.Availability(data=raw, many=True)
            if not raw or not availability.is_valid():
                raise DomainError(
                    "invalid",
                    "Some fields need attention.",
                    fields={**_form_errors(basic, *step_forms), "availability": "Give at least one weekly window."},
                )
            windows = availability.validated_data
        if not valid:
            raise DomainError("invalid", "Some fields need attention.", fields=_form_errors(basic, *step_forms))
        cleaned = {}
        for form in step_forms:
            cleaned.update(form.cleaned_data)
        registration = services.Registration(
            role=role,
            email=basic.cleaned_data["email"],
            full_name=basic.cleaned_data["full_name"],
            password_hash=make_password(basic.cleaned_data["password"]),
            email_token=head.validated_data["email_token"],
            timezone=basic.cleaned_data["timezone"],
            availability=windows,
            **{k: v for k, v in cleaned.items() if v is not None},
        )
        user = services.account_register(registration=registration, request=request)
        return Response({"user": UserSerializer(user).data, **tokens_for(user)}, status=status.HTTP_201_CREATED)


class LoginView(AuthThrottled):
    class LoginInput(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False)
        otp = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(request=LoginInput, responses={200: dict})
    def post(self, request):
        data = self.LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.login_check(
            request=request._request, email=data.validated_data["email"], password=data.validated_data["password"]
        )
        otp = False
        if user.role == "admin":
            token = (data.validated_data.get("otp") or "").replace(" ", "")
            if not token:
                raise Forbidden(
                    "otp_required",
                    "Admins sign in with a code from their authenticator app.",
                    fields={"otp": "Enter your 6-digit code."},
                )
            if match_token(user, token) is None:
                audit_record(action="auth.2fa_failed", actor=user, request=request, target=user)
                raise Forbidden("otp_invalid", "That code is not right.", fields={"otp": "That code is not right."})
            otp = True
        audit_record(action="auth.token_issued", actor=user, request=request, target=user)
        return Response({"user": UserSerializer(user).data, **tokens_for(user, otp=otp)})


class RefreshView(AuthThrottled):
    """Rotates: each refresh token works once; the old one is blacklisted."""

    class RefreshInput(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(request=RefreshInput, responses={200: dict})
    def post(self, request):
        serializer = TokenRefreshSerializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        return Response(serializer.validated_data)


class LogoutView(APIView):
    access_rule = Rule.PUBLIC  # a client whose access token expired must still be able to sign out

    class LogoutInput(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(request=LogoutInput, responses={205: None})
    def post(self, request):
        data = self.LogoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token = RefreshToken(data.validated_data["refresh"])
            token.blacklist()
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        audit_record(action="auth.token_revoked", request=request, user_id=token.get("user_id"))
        return Response(status=status.HTTP_205_RESET_CONTENT)


class TimezoneField(serializers.CharField):
    """An IANA zone name. A ChoiceField would deep-copy ~600 choices with every serializer
    instance, which an offline replay of many profile edits pays for each one."""

    default_error_messages = {"invalid_zone": "Choose a timezone from the list (for example Asia/Kolkata)."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in TIMEZONE_NAMES:
            self.fail("invalid_zone")
        return value


class MeView(APIView):
    access_rule = Rule.AUTHENTICATED

    class Update(serializers.Serializer):
        full_name = serializers.CharField(min_length=2, max_length=120, required=False)
        timezone = TimezoneField(required=False)
        theme = serializers.ChoiceField(choices=Theme.choices, required=False)

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=Update, responses=UserSerializer)
    def patch(self, request):
        forbidden = {"role", "email", "is_active", "is_superuser", "approval_state"} & set(request.data)
        if forbidden:
            audit_record(
                action="account.forbidden_change", actor=request.user, request=request, fields=sorted(forbidden)
            )
            raise Forbidden(
                "field_immutable",
                "These fields cannot be changed here.",
                fields={name: "This cannot be changed." for name in sorted(forbidden)},
            )
        data = self.Update(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.account_update(
            user=request.user,
            full_name=data.validated_data.get("full_name"),
            timezone_name=data.validated_data.get("timezone"),
            theme=data.validated_data.get("theme"),
        )
        return Response(UserSerializer(user).data)
