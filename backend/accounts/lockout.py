from django.http import JsonResponse
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    message = "Too many failed sign-in attempts. Try again in 15 minutes or reset your password."
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "locked_out", "message": message}}, status=429)
    from backend.accounts.forms import LoginForm

    form = LoginForm(initial={"email": (credentials or {}).get("email", "")})
    return render(request, "accounts/login.html", {"form": form, "locked_message": message}, status=429)
