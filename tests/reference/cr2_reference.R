#!/usr/bin/env Rscript
# Reference numbers for covariance: cluster_cr2 in pipeline/stats/covariance.py: the CR2 (bias-reduced
# linearisation) cluster-robust covariance and Satterthwaite degrees of freedom of clubSandwich
# (Pustejovsky & Tipton 2018, J Bus Econ Stat 36:672-683) for lm fits (OLS and WLS).
# The Python tests (tests/test_estimators_cr2.py) read only the JSON and the CSVs.
#
# Run from the repository root:   Rscript tests/reference/cr2_reference.R
# Reads tests/reference/data/petersen_cl.csv (written by models_reference.R from
# sandwich::PetersenCL, Petersen 2009; w = 1 + ((row - 1) mod 3)); writes
# tests/reference/data/satcoaching.csv (clubSandwich::SATcoaching: SAT coaching effect sizes,
# Kalaian & Raudenbush 1996, 67 effect sizes in 47 studies, 27 studies with one effect size
# and 20 with two: unbalanced clusters) and tests/reference/cr2_reference.json.
#
# Models (vcovCR(m, cluster, type = "CR2"); coef_test(..., test = "Satterthwaite");
# conf_int(..., level = 0.95, test = "Satterthwaite")):
#   petersen_firm       lm(y ~ x), cluster firm (500 clusters of 10)
#   petersen_year       lm(y ~ x), cluster year (10 clusters of 500: few clusters)
#   petersen_firm_xbar  lm(y ~ x + xbar), xbar = firm mean of x (a cluster-level regressor)
#   petersen_firm_wls   lm(y ~ x, weights = w), cluster firm
#   sat_ols             lm(d ~ test + hrs + ETS), cluster study
#   sat_wls             lm(d ~ test + hrs + ETS, weights = 1 / V), cluster study
suppressPackageStartupMessages({
  library(clubSandwich)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
ddir <- file.path(here, "data")

named <- function(v, nm) as.list(setNames(as.numeric(v), nm))

pc <- read.csv(file.path(ddir, "petersen_cl.csv"))
pc$xbar <- ave(pc$x, pc$firm)
data("SATcoaching", package = "clubSandwich")
sat <- SATcoaching
sat$inv_V <- 1 / sat$V
write.csv(sat, file.path(ddir, "satcoaching.csv"), row.names = FALSE)
sat <- read.csv(file.path(ddir, "satcoaching.csv"))

ref_for <- function(m, cluster) {
  V <- vcovCR(m, cluster = cluster, type = "CR2")
  ct <- coef_test(m, vcov = V, test = "Satterthwaite")
  ci <- conf_int(m, vcov = V, level = 0.95, test = "Satterthwaite")
  nm <- names(coef(m))
  list(nobs = nobs(m), n_clusters = nlevels(attr(V, "cluster")),
       coef = named(coef(m), nm), se = named(ct$SE, nm), df = named(ct$df_Satt, nm),
       p = named(ct$p_Satt, nm), ci_low = named(ci$CI_L, nm), ci_high = named(ci$CI_U, nm),
       vcov = list(terms = nm, values = unname(as.matrix(V)[nm, nm])))
}

out <- list()
m <- lm(y ~ x, data = pc)
out$petersen_firm <- ref_for(m, pc$firm)
out$petersen_year <- ref_for(m, pc$year)
out$petersen_firm_xbar <- ref_for(lm(y ~ x + xbar, data = pc), pc$firm)
out$petersen_firm_wls <- ref_for(lm(y ~ x, data = pc, weights = w), pc$firm)
out$sat_ols <- ref_for(lm(d ~ test + hrs + ETS, data = sat), sat$study)
out$sat_wls <- ref_for(lm(d ~ test + hrs + ETS, data = sat, weights = inv_V), sat$study)

meta <- list(
  R = R.version.string,
  clubSandwich = as.character(packageVersion("clubSandwich")),
  jsonlite = as.character(packageVersion("jsonlite")),
  data = list(
    petersen_cl = "sandwich::PetersenCL (Petersen 2009, Rev Financ Stud 22:435-480) -> data/petersen_cl.csv (models_reference.R); xbar = ave(x, firm) computed here",
    satcoaching = "clubSandwich::SATcoaching (Kalaian & Raudenbush 1996) -> data/satcoaching.csv; inv_V = 1 / V added"),
  script = "tests/reference/cr2_reference.R")
writeLines(toJSON(c(list(meta = meta), out), auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(here, "cr2_reference.json"))
