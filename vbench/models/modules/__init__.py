"""The modules each method adds to a trunk: temporal ones in the block slots (shift, TEA's
ME and MTA, STM, TSI, STSM, TAda, EAN's), attention (ECA), heads with their own maths
(TCP's covariance pooling) and re-id blocks (MSTAT): one file a method (models/resnet.py
describes the slots)."""
