"""The subcommands of ``post-office``, one module each: ``run(args)``."""
