import sys

from workbench.launcher import main

sys.exit(main())
