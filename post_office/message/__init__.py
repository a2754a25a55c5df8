"""What is sent: envelope addresses, message sources and their checks, headers,
``Letter``, net.mail (pure: no I/O)."""
