// The console's WebAuthn steps: registering a security key or passkey on the enrolment page
// (#enrol), and signing in with one (#webauthn-sign-in). The server's options sit in the
// form's data-options; the browser's answer goes back in the form's "credential" field.
(function () {
  "use strict";

  const webauthn = window.SimpleWebAuthnBrowser;

  function showError(message) {
    const box = document.getElementById("webauthn-error");
    if (box) box.textContent = message;
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The security key was not used (cancelled, or it took too long). Try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This security key is already registered. Use another one, or the authenticator app.";
    }
    return "The security key could not be used: " + (error && error.message ? error.message : error);
  }

  async function answer(form, start) {
    showError("");
    if (!webauthn || !webauthn.browserSupportsWebAuthn()) {
      showError("This browser cannot use security keys. Use the authenticator app instead.");
      return;
    }
    try {
      const optionsJSON = JSON.parse(form.dataset.options);
      const result = await start({ optionsJSON });
      form.elements.credential.value = JSON.stringify(result);
      form.submit();
    } catch (error) {
      showError(explain(error));
    }
  }

  const enrol = document.getElementById("enrol");
  const register = document.getElementById("register-key");
  if (enrol && register) {
    register.addEventListener("click", () => {
      // The passwords are checked first, so a key is not registered with a form that fails.
      for (const name of ["password", "password_again"]) {
        if (!enrol.elements[name].reportValidity()) return;
      }
      answer(enrol, (options) => webauthn.startRegistration(options));
    });
  }

  const signIn = document.getElementById("webauthn-sign-in");
  if (signIn) {
    signIn.addEventListener("submit", (event) => {
      if (signIn.elements.credential.value) return;
      event.preventDefault();
      answer(signIn, (options) => webauthn.startAuthentication(options));
    });
  }
})();
