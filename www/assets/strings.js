// Every word the portal shows, in one place, so that it can be translated: copy this file,
// translate the values, keep the keys. Functions are for texts with numbers or names in them.
export const lang = "en";

export const S = {
  title: "Secure mail portal",
  skipToContent: "Skip to content",

  signInHeading: "Sign in",
  signInIntro: "Enter your email address and the password you were given for this portal.",
  addressLabel: "Email address",
  passwordLabel: "Password",
  signInButton: "Sign in",
  signingIn: "Signing in…",
  wrongLogin: "Wrong address or password.",
  missingFields: "Enter your email address and your password.",
  serverError: "The portal could not be reached. Try again later.",

  inboxHeading: "Inbox",
  signedInAs: (address) => `Signed in as ${address}`,
  signOutButton: "Sign out",
  signedOut: "You are signed out.",
  loadingInbox: "Loading your messages…",
  emptyInbox: "There are no messages.",
  inboxCount: (n) => (n === 1 ? "1 message." : `${n} messages.`),
  noSubject: "(no subject)",
  unknownSender: "(unknown sender)",
  damagedEntry: "This message could not be opened: it was damaged or altered.",
  hasAttachments: (n) => (n === 1 ? "1 attachment" : `${n} attachments`),
  openMessageLabel: (from, subject, date) => `Message from ${from}: ${subject}, ${date}`,
  protectedPDF: (id) => `Protected PDF ${id}`,

  backToInbox: "Back to inbox",
  loadingMessage: "Opening the message…",
  messageOpened: (subject) => `Message opened: ${subject}`,
  damaged: "This message could not be opened: it was damaged or altered.",
  fromLabel: "From",
  toLabel: "To",
  ccLabel: "Cc",
  dateLabel: "Date",
  bodyFrameTitle: "Message text",
  partProblem: (detail) => `Part of this message could not be shown (${detail}). The original message, complete, is under "Download the original message (.eml)".`,
  blockedImages: (n) => (n === 1
    ? "1 image from the internet was not loaded, to protect your privacy."
    : `${n} images from the internet were not loaded, to protect your privacy.`),
  problemsHeading: "Notes about this message",
  receiptNotice: (sender) => (sender
    ? `The sender, ${sender}, asked for a read receipt: opening this message tells them that you read it.`
    : "The sender asked for a read receipt: opening this message tells them that you read it."),

  otpHeading: "Password for the protected PDF",
  otpIntro: (file) => `This message was emailed to you as the protected PDF ${file}. Open the PDF with this one-time password; the password id is the one named in the email.`,
  otpOnly: "The message itself is only in the protected PDF that was emailed to you.",
  otpIDLabel: "Password id",
  otpPasswordLabel: "Password",
  otpCopyButton: "Copy password",
  otpCopied: "Password copied.",
  otpCopyFailed: "The password could not be copied: select it and copy it yourself.",

  attachmentsHeading: "Attachments",
  download: (name, size) => `Download ${name} (${size})`,
  downloadEml: "Download the original message (.eml)",
  downloading: (name) => `Downloading ${name}…`,
  downloaded: (name) => `${name} downloaded.`,
  attachmentDamaged: (name) => `${name} could not be opened: it was damaged or altered.`,
  unnamedAttachment: "attachment",
  unnamedMessage: "message.eml",
  emlFileName: "message.eml",

  bytes: (n) => {
    if (n < 1024) return `${n} bytes`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  },
};
