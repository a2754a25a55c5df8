"""What the tests stand on: loopback SMTP and DNS servers, the scripted fault server,
test oracles and a pseudo-terminal (nothing here is a test)."""
