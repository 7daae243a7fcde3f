from django.core.exceptions import ValidationError


class CharacterClassValidator:
    """Letters alone are easy to guess even when long: ask for a digit or a symbol as well."""

    def validate(self, password: str, user=None) -> None:
        has_letter = any(c.isalpha() for c in password)
        has_other = any(not c.isalpha() for c in password)
        if not (has_letter and has_other):
            raise ValidationError("Use letters and at least one number or symbol.", code="password_character_classes")

    def get_help_text(self) -> str:
        return "Your password must mix letters with at least one number or symbol."
