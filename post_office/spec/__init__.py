"""The mail-server argument: ``MailServer``, the Lisp reader and printer, TLS keywords,
connection options (pure: no I/O)."""
