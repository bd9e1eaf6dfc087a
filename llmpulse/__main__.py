import sys

from llmpulse.cli.main import main

sys.exit(main())
