#!/usr/bin/env Rscript
# Reference numbers for the agreement statistics of pipeline/stats/agreement.py.
#
# Run from the repository root:   Rscript tests/reference/agreement.R
# Reads tests/reference/data/agreement_tables.csv and agreement_krippendorff2011.csv, writes
# tests/reference/agreement.json. The Python tests only read those files; they never need R.
#
# Cohen's kappa: R psych 2.2.9 cohen.kappa() (Revelle 2022, https://CRAN.R-project.org/package=psych),
# unweighted kappa, var.kappa (Fleiss, Cohen & Everitt 1969) and its 95 % confidence bounds, on
# three agreement tables (rows rater 1, columns rater 2): a 2x2 table, a 2x2 table of a rare
# code (as a theme of the codebook is), and the 3x3 table of Cohen (1968) that psych's help page
# uses (proportions .44 .07 .09 / .05 .20 .05 / .01 .03 .06 of 200 cases, stored as counts).
#
# Krippendorff's alpha (nominal): package irr is not installed here, so alpha is computed below
# from the coincidence matrix exactly as Krippendorff (2011), "Computing Krippendorff's
# Alpha-Reliability", Annenberg School for Communication, University of Pennsylvania
# (https://repository.upenn.edu/asc_papers/43), sets it out, on that paper's two worked
# examples: the binary data of two observers and ten units (alpha = 0.095 in the paper) and the
# nominal data of four observers and twelve units with missing values (alpha = 0.743). The
# script stops unless the paper's rounded values are reproduced.
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))

tabs <- read.csv(file.path(here, "data", "agreement_tables.csv"))
kappa_out <- list()
for (name in unique(tabs$table)) {
  t <- tabs[tabs$table == name, ]
  lv <- sort(unique(c(t$rater1, t$rater2)))
  m <- matrix(0, length(lv), length(lv))
  for (i in seq_len(nrow(t))) m[match(t$rater1[i], lv), match(t$rater2[i], lv)] <- t$count[i]
  ck <- cohen.kappa(m)
  kappa_out[[name]] <- list(kappa = ck$kappa, var_kappa = ck$var.kappa,
                            lower = ck$confid[1, "lower"], upper = ck$confid[1, "upper"], n = sum(m))
}

kripp_nominal <- function(x) {           # x: coders x units, NA missing
  vals <- sort(unique(as.vector(x[!is.na(x)])))
  o <- matrix(0, length(vals), length(vals))
  for (u in seq_len(ncol(x))) {
    v <- x[!is.na(x[, u]), u]
    m <- length(v)
    if (m < 2) next
    for (i in seq_along(v)) for (j in seq_along(v)) if (i != j) {
      a <- match(v[i], vals); b <- match(v[j], vals)
      o[a, b] <- o[a, b] + 1 / (m - 1)
    }
  }
  nc <- rowSums(o); n <- sum(nc)
  do <- sum(o) - sum(diag(o))
  de <- (n^2 - sum(nc^2)) / (n - 1)
  1 - do / de
}

kd <- read.csv(file.path(here, "data", "agreement_krippendorff2011.csv"), na.strings = "")
alpha_out <- list()
for (name in unique(kd$data)) {
  x <- as.matrix(kd[kd$data == name, grep("^u", names(kd))])
  alpha_out[[name]] <- kripp_nominal(x)
}
stopifnot(round(alpha_out$nominal, 3) == 0.743, round(alpha_out$binary, 3) == 0.095)

out <- list(kappa = kappa_out, alpha = alpha_out,
            versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                            psych = as.character(packageVersion("psych"))))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "agreement.json"))
