// After django-otp-webauthn's script has registered a passkey, go on to the page the
// section names (data-next), or load this page again: the list of passkeys then shows
// the new one and, for a person's first second factor, their recovery codes.
document.addEventListener("otp_webauthn.register_complete", function () {
  var section = document.getElementById("passkey-add");
  var next = section ? section.getAttribute("data-next") : "";
  window.location.assign(next || window.location.href);
});
