"""Why deep CNNs fail to train and what fixes them: the study's library."""
