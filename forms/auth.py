"""Forms for registration, sign-in (password and second factor), re-authentication, password change and
reset, staff account creation, and notification preferences."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, Optional, Regexp

from forms.base import PortalForm
from portal.auth.roles import StaffRole

PASSWORD_HINT = "At least 12 characters. A passphrase of several words is easy to remember and hard to guess."


class RegisterForm(PortalForm):
    full_name = StringField("Full name", validators=[DataRequired("Enter your full name."), Length(max=200)])
    email = EmailField(
        "E-mail address",
        validators=[DataRequired("Enter your e-mail address."), Email("Enter a valid e-mail address."),
                    Length(max=254)],
        description="You will sign in with this address.",
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Choose a password."), Length(min=12, max=128,
                    message="Use between 12 and 128 characters.")],
        description=PASSWORD_HINT,
    )
    confirm_password = PasswordField(
        "Confirm password",
        validators=[InputRequired("Type the password again."), EqualTo("password", "The passwords do not match.")],
    )


class LoginForm(PortalForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter your e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password."), Length(max=128)])


class ChangePasswordForm(PortalForm):
    current_password = PasswordField("Current password", validators=[InputRequired("Enter your current password.")])
    new_password = PasswordField(
        "New password",
        validators=[InputRequired("Choose a new password."), Length(min=12, max=128,
                    message="Use between 12 and 128 characters.")],
        description=PASSWORD_HINT,
    )
    confirm_password = PasswordField(
        "Confirm new password",
        validators=[InputRequired("Type the new password again."),
                    EqualTo("new_password", "The passwords do not match.")],
    )


class ForgotPasswordForm(PortalForm):
    email = EmailField(
        "E-mail address",
        validators=[DataRequired("Enter your e-mail address."), Email("Enter a valid e-mail address."),
                    Length(max=254)],
    )


class ResetPasswordForm(PortalForm):
    new_password = PasswordField(
        "New password",
        validators=[InputRequired("Choose a new password."), Length(min=12, max=128,
                    message="Use between 12 and 128 characters.")],
        description=PASSWORD_HINT,
    )
    confirm_password = PasswordField(
        "Confirm new password",
        validators=[InputRequired("Type the new password again."),
                    EqualTo("new_password", "The passwords do not match.")],
    )


class StaffUserForm(PortalForm):
    full_name = StringField("Full name", validators=[DataRequired("Enter the full name."), Length(max=200)])
    email = EmailField(
        "E-mail address",
        validators=[DataRequired("Enter the e-mail address."), Email("Enter a valid e-mail address."),
                    Length(max=254)],
    )
    role = SelectField(
        "Role",
        choices=[(role.value, role.label) for role in StaffRole],
        validators=[DataRequired("Choose a role.")],
    )
    password = PasswordField(
        "Initial password",
        validators=[InputRequired("Choose an initial password."), Length(min=12, max=128,
                    message="Use between 12 and 128 characters.")],
        description="Give it to the person through a separate channel; they should change it at first sign-in.",
    )


class MfaCodeForm(PortalForm):
    """The second step of signing in: a code from the authenticator app, or a recovery code."""

    code = StringField(
        "Authentication code",
        validators=[DataRequired("Enter the code from your authenticator app or a recovery code."), Length(max=64)],
        description="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )


class MfaSetupForm(PortalForm):
    """Confirming a new authenticator with its first code."""

    code = StringField(
        "Code from your authenticator app",
        validators=[DataRequired("Enter the 6-digit code from your authenticator app."),
                    Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits your authenticator app shows.")],
        description="6 digits, for example 123456.",
    )


class ReauthForm(PortalForm):
    """Confirming the identity of a signed-in user before a sensitive action."""

    password = PasswordField("Password", validators=[InputRequired("Enter your password."), Length(max=128)])
    code = StringField(
        "Authentication code",
        validators=[Optional(), Length(max=64)],
        description="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )


class NotificationPreferencesForm(PortalForm):
    email_notifications = BooleanField(
        "Also send my notifications by e-mail",
        description="Messages about your applications, reviews and validations always appear under "
                    "Notifications. E-mails about your account itself (password resets, invitations) are "
                    "always sent.",
    )
