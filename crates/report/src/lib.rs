//! Model and decision reports: binary-classification metrics (AUC, KS, Gini, confusion matrix,
//! lift/gain by decile, population stability) and ROC/KS plots assembled into one self-contained
//! HTML file.
