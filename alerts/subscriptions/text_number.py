"""The number people text JOIN, START and STOP to, as pages name it.

`HAVEN_SMS_SHORT_CODE` when set, else `TWILIO_FROM_NUMBER` as people dial it ("(500) 555-0006"
in the US and its territories, "+44 20 7946 0958" elsewhere). None without Twilio credentials
(SMS then go to the log, and no text reaches Haven), and with only a Messaging Service (its
numbers are Twilio's to choose): a page then leaves out the sentence that would name it, rather
than name a wrong number or none.

SMS replies never name it: a reply goes back to the number that sent the message, which is
always right, whatever number or pool Twilio sent it from.
"""

from __future__ import annotations

import dataclasses

import phonenumbers

from haven.settings import Settings


@dataclasses.dataclass(frozen=True)
class TextNumber:
    """Where to text: `uri` for an `sms:` link, `display` as people read and dial it."""

    uri: str
    display: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TextNumber | None:
        """The number the settings name, or None when texts cannot reach Haven or no number
        is configured."""
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            return None
        if settings.sms_short_code:
            return cls(uri=f"sms:{settings.sms_short_code}", display=settings.sms_short_code)
        if not settings.twilio_from_number:
            return None
        try:
            number = phonenumbers.parse(settings.twilio_from_number, None)
        except phonenumbers.NumberParseException:
            return None
        style = (
            phonenumbers.PhoneNumberFormat.NATIONAL
            if number.country_code == 1
            else phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return cls(uri=f"sms:{e164}", display=phonenumbers.format_number(number, style))
