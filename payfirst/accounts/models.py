"""Users sign in with their email; each keeps an address book with one default address."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from payfirst.core.gstin import gstin_problem, state_code_for, validate_gstin
from payfirst.core.models import TimestampedModel

PIN_CODE = RegexValidator(r"^[1-9][0-9]{5}$", "Enter a 6-digit PIN code that does not start with 0.")
PHONE = RegexValidator(r"^\+?[0-9]{10,15}$", "Enter a phone number of 10 to 15 digits, optionally starting with +.")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return (email or "").strip().lower()

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=self.normalize_email(username))


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(max_length=254, unique=True, help_text="stored lower-case")
    full_name = models.CharField(max_length=150)
    phone = models.CharField(max_length=16, blank=True, validators=[PHONE])
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_unique_ci")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = UserManager.normalize_email(self.email)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.email


# An address's own fields, in the order the API shows them (after "id"): the serializers, the admin form and the
# snapshot a payment freezes all use this one list.
ADDRESS_FIELDS: tuple[str, ...] = (
    "full_name",
    "phone",
    "address_line_1",
    "address_line_2",
    "city",
    "state",
    "postal_code",
    "country",
    "gstin",
    "is_default",
)


class Address(TimestampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    full_name = models.CharField(max_length=150)
    phone = models.CharField(max_length=16, validators=[PHONE])
    address_line_1 = models.CharField(max_length=255)
    address_line_2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=6, validators=[PIN_CODE])
    country = models.CharField(max_length=64, default="India")
    gstin = models.CharField(
        max_length=15,
        blank=True,
        validators=[validate_gstin],
        verbose_name="GSTIN",
        help_text="the buyer's GSTIN for a business (B2B) tax invoice; blank for a consumer",
    )
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "id"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(is_default=True), name="one_default_address_per_user")
        ]

    def clean(self) -> None:
        """A GSTIN is upper-cased and must belong to the address's state (its first two digits are the state)."""
        self.gstin = self.gstin.strip().upper()
        if self.gstin and not gstin_problem(self.gstin):
            problem = gstin_problem(self.gstin, state_code=state_code_for(self.state) or "")
            if problem:
                raise ValidationError({"gstin": [problem]})

    def __str__(self) -> str:
        return f"{self.full_name}, {self.city} {self.postal_code}"
