# Reference values for pipeline/stats/cfa.py (tests/test_cfa.py), computed with lavaan.
#
#   Rscript tests/reference/lavaan_cfa.R      (run from the repository root)
#
# Writes tests/reference/data/HolzingerSwineford1939.csv (lavaan's shipped copy of the data) and
# tests/reference/lavaan_cfa.json (fit measures, every parameter estimate with its SE and std.all,
# lavTestScore / lavTestLRT of the invariance sequence, HTMT from the item correlations).
#
# Data: HolzingerSwineford1939 as shipped with the R package lavaan; Holzinger, K. J. and
# Swineford, F. A. (1939). A study in factor analysis: The stability of a bi-factor solution.
# Supplementary Educational Monograph, no. 48. Chicago: University of Chicago Press.
#
# All models use lavaan's defaults: estimator ML, likelihood "normal" (N divisor), expected
# information, marker-variable identification, listwise deletion. The stored estimates come from
# lavaan run with optim.method = "BFGS" and control = list(reltol = 1e-20): lavaan's default
# optimiser (nlminb, rel.tol = 1e-10) stops at a gradient of ~1e-6, which leaves some estimates
# ~5e-5 (relative) from the optimum, and nlminb cannot be tightened (with rel.tol = 1e-13 it
# reports "false convergence" at a worse fmin); lavaan's Gauss-Newton optimiser (optim.method =
# "GN") is tight without equality constraints but stops far from the optimum with group.equal in
# lavaan 0.6-14. The script checks that every tight fit converged with an fmin no worse than the
# default fit's. Each model also records the fit measures of the default fit ("fit_default")
# and the largest relative difference between the default and the tight estimates and SEs
# ("default_vs_tight"), so that optimiser noise is on record.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

out_dir <- file.path("tests", "reference")
dat <- lavaan::HolzingerSwineford1939
dat$school <- as.character(dat$school)
csv <- file.path(out_dir, "data", "HolzingerSwineford1939.csv")
write.csv(dat, csv, row.names = FALSE, na = "")
back <- read.csv(csv)
stopifnot(all(vapply(paste0("x", 1:9), function(v) identical(back[[v]], dat[[v]]), logical(1))))

items <- paste0("x", 1:9)
m3 <- "visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9"
m1 <- "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9"

fm_names <- c("npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
              "baseline.pvalue", "cfi", "tli", "logl", "unrestricted.logl", "aic", "bic",
              "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr",
              "srmr_bentler", "srmr_bentler_nomean")

tight_control <- list(optim.method = "BFGS", control = list(reltol = 1e-20, maxit = 10000L))

rel_diff <- function(a, b) max(abs(a - b) / pmax(abs(b), 1e-3), na.rm = TRUE)

describe <- function(fit, syntax, group = NULL, group_equal = character(0),
                     group_partial = character(0), default_fit = NULL) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  pe <- pe[pe$op %in% c("=~", "~~", "~1"), ]
  if (is.null(pe$group)) pe$group <- 1L
  glab <- lavInspect(fit, "group.label")
  if (length(glab) == 0) glab <- ""
  pe$group_label <- if (length(glab) == 1 && glab == "") "" else glab[pe$group]
  est <- lapply(seq_len(nrow(pe)), function(i) list(
    lhs = pe$lhs[i], op = pe$op[i], rhs = pe$rhs[i], group = pe$group[i],
    group_label = pe$group_label[i], est = pe$est[i], se = pe$se[i],
    z = if (is.na(pe$z[i])) NULL else pe$z[i],
    pvalue = if (is.na(pe$pvalue[i])) NULL else pe$pvalue[i],
    std_all = pe$std.all[i]))
  fm <- as.list(fitMeasures(fit, fm_names))
  nobs <- lavInspect(fit, "nobs")
  pd <- parameterEstimates(default_fit, standardized = TRUE)
  pd <- pd[pd$op %in% c("=~", "~~", "~1"), ]
  stopifnot(identical(pd$lhs, pe$lhs), identical(pd$rhs, pe$rhs))
  list(syntax = syntax, group = group, group_equal = group_equal,
       group_partial = group_partial, meanstructure = lavInspect(fit, "meanstructure"),
       group_labels = as.list(glab), nobs = as.list(as.integer(nobs)),
       converged = lavInspect(fit, "converged"),
       optimizer = "optim.method = BFGS, control = list(reltol = 1e-20)",
       fmin_minus_default = unname(fitMeasures(fit, "fmin") - fitMeasures(default_fit, "fmin")),
       fit = fm, fit_default = as.list(fitMeasures(default_fit, fm_names)),
       default_vs_tight = list(est = rel_diff(pd$est, pe$est), se = rel_diff(pd$se, pe$se),
                               std_all = rel_diff(pd$std.all, pe$std.all)),
       estimates = est)
}

fits <- list()
models <- list()

# name, syntax, group, group.equal, group.partial (items whose intercepts are free), meanstructure
specs <- list(
  list("three_factor", m3, NULL, character(0), character(0), FALSE),
  list("three_factor_means", m3, NULL, character(0), character(0), TRUE),
  list("one_factor", m1, NULL, character(0), character(0), FALSE),
  list("just_identified", "visual =~ x1 + x2 + x3", NULL, character(0), character(0), FALSE),
  list("configural", m3, "school", character(0), character(0), TRUE),
  list("metric", m3, "school", "loadings", character(0), TRUE),
  list("scalar", m3, "school", c("loadings", "intercepts"), character(0), TRUE),
  list("partial_x3", m3, "school", c("loadings", "intercepts"), "x3", TRUE),
  list("partial_x3_x7", m3, "school", c("loadings", "intercepts"), c("x3", "x7"), TRUE),
  list("strict", m3, "school", c("loadings", "intercepts", "residuals"), character(0), TRUE))
default_fits <- list()
for (sp in specs) {
  args <- list(model = sp[[2]], data = dat, meanstructure = sp[[6]])
  if (!is.null(sp[[3]])) {
    args$group <- sp[[3]]
    if (length(sp[[4]])) args$group.equal <- sp[[4]]
    if (length(sp[[5]])) args$group.partial <- paste0(sp[[5]], " ~ 1")
  }
  default_fits[[sp[[1]]]] <- do.call("cfa", args)
  fits[[sp[[1]]]] <- do.call("cfa", c(args, tight_control))
  models[[sp[[1]]]] <- describe(fits[[sp[[1]]]], sp[[2]], group = sp[[3]], group_equal = sp[[4]],
                                group_partial = sp[[5]], default_fit = default_fits[[sp[[1]]]])
}
stopifnot(all(vapply(default_fits, lavInspect, logical(1), what = "converged")),
          all(vapply(fits, lavInspect, logical(1), what = "converged")),
          all(vapply(models, function(m) m$fmin_minus_default < 1e-13, logical(1))))

# Univariate score tests of the scalar model's equality constraints, labelled by parameter
# (lavaan's default fit, as a user would run it).
st <- lavTestScore(default_fits$scalar)$uni
pt <- parTable(default_fits$scalar)
name_of <- function(lab) {
  r <- pt[pt$plabel == lab, ]
  paste0(r$lhs, " ", r$op, if (r$rhs == "") "" else paste0(" ", r$rhs))
}
score_uni <- lapply(seq_len(nrow(st)), function(i) list(
  parameter = name_of(st$lhs[i]), X2 = st$X2[i], df = st$df[i], pvalue = st$p.value[i]))

# Refit-based (likelihood-ratio) drop in chi-square when one intercept is freed from the scalar model.
lr_free <- lapply(items, function(it) {
  f <- do.call("cfa", c(list(model = m3, data = dat, group = "school",
                             group.equal = c("loadings", "intercepts"),
                             group.partial = paste0(it, " ~ 1")), tight_control))
  list(item = it, chisq = unname(fitMeasures(f, "chisq")),
       chisq_drop = unname(fitMeasures(fits$scalar, "chisq") - fitMeasures(f, "chisq")))
})

lrt_tab <- lavTestLRT(fits$configural, fits$metric, fits$scalar, model.names = c("configural", "metric", "scalar"))
lrt <- lapply(seq_len(nrow(lrt_tab)), function(i) list(
  model = rownames(lrt_tab)[i], df = lrt_tab$Df[i], chisq = lrt_tab$Chisq[i],
  chisq_diff = if (is.na(lrt_tab[["Chisq diff"]][i])) NULL else lrt_tab[["Chisq diff"]][i],
  df_diff = if (is.na(lrt_tab[["Df diff"]][i])) NULL else lrt_tab[["Df diff"]][i],
  pvalue = if (is.na(lrt_tab[["Pr(>Chisq)"]][i])) NULL else lrt_tab[["Pr(>Chisq)"]][i]))

# Sample statistics with the N divisor, as lavaan uses them.
ss <- lavInspect(fits$three_factor_means, "sampstat")
ss_g <- lavInspect(fits$configural, "sampstat")

# HTMT (Henseler, Ringle & Sarstedt 2015) from the Pearson correlations of the items, with
# absolute correlations (semTools::htmt's default), written out by hand (semTools is not installed).
R <- cor(dat[, items])
blocks <- list(visual = c("x1", "x2", "x3"), textual = c("x4", "x5", "x6"),
               speed = c("x7", "x8", "x9"))
mono <- function(b) { r <- abs(R[b, b]); mean(r[lower.tri(r)]) }
htmt <- matrix(1, 3, 3, dimnames = list(names(blocks), names(blocks)))
for (i in 1:3) for (j in 1:3) if (i != j) {
  htmt[i, j] <- mean(abs(R[blocks[[i]], blocks[[j]]])) / sqrt(mono(blocks[[i]]) * mono(blocks[[j]]))
}

# Composite reliability and AVE from lavaan's std.all loadings and residual variances.
std <- standardizedSolution(fits$three_factor)
cr_ave <- lapply(names(blocks), function(f) {
  l <- std$est.std[std$op == "=~" & std$lhs == f]
  th <- std$est.std[std$op == "~~" & std$lhs %in% blocks[[f]] & std$lhs == std$rhs]
  list(factor = f, cr = sum(l)^2 / (sum(l)^2 + sum(th)), ave = mean(l^2))
})

ref <- list(
  meta = list(
    lavaan_version = as.character(packageVersion("lavaan")),
    r_version = R.version.string,
    script = "tests/reference/lavaan_cfa.R",
    data = list(
      file = "tests/reference/data/HolzingerSwineford1939.csv",
      source = "R package lavaan, dataset HolzingerSwineford1939 (school written as text)",
      citation = paste("Holzinger, K. J. and Swineford, F. A. (1939). A study in factor analysis:",
                       "The stability of a bi-factor solution. Supplementary Educational",
                       "Monograph, no. 48. Chicago: University of Chicago Press."),
      n = nrow(dat)),
    notes = paste("estimator ML, likelihood normal, information expected, marker-variable",
                  "identification; estimates from optim.method = 'BFGS', control = list(reltol = 1e-20)",
                  "(fit_default: fitMeasures of the default nlminb fit);",
                  "std_all is parameterEstimates(standardized = TRUE)$std.all;",
                  "srmr is lavaan's fitMeasures 'srmr' (= srmr_bentler, including mean residuals",
                  "when the model has a mean structure)")),
  items = items,
  sample = list(
    cov = unname(lapply(seq_len(nrow(ss$cov)), function(i) unname(ss$cov[i, ]))),
    mean = unname(as.numeric(ss$mean)),
    cov_by_group = lapply(ss_g, function(s) unname(lapply(seq_len(nrow(s$cov)), function(i) unname(s$cov[i, ])))),
    mean_by_group = lapply(ss_g, function(s) unname(as.numeric(s$mean)))),
  models = models,
  score_test_scalar = score_uni,
  free_one_intercept = lr_free,
  lrt_configural_metric_scalar = lrt,
  htmt = list(factors = names(blocks), absolute = TRUE,
              correlation = unname(lapply(seq_len(9), function(i) unname(R[i, ]))),
              matrix = unname(lapply(1:3, function(i) unname(htmt[i, ])))),
  cr_ave_three_factor = cr_ave)

write_json(ref, file.path(out_dir, "lavaan_cfa.json"), auto_unbox = TRUE, digits = NA,
           pretty = TRUE, null = "null")
cat("wrote", file.path(out_dir, "lavaan_cfa.json"), "\n")
