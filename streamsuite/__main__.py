import sys

from streamsuite.cli import main

sys.exit(main())
