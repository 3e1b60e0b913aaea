#!/usr/bin/env Rscript
# More reference numbers for pipeline/stats/fit.py and its modules, beyond models_reference.R: a mixed model
# whose random-intercept variance is estimated at zero (lme4's boundary / singular fit), survey-
# weighted logit and ordered logit with cluster-robust variances, predictions with confidence
# intervals, and standardised coefficients. The Python tests read only the JSON and the CSVs.
#
# Run from the repository root:   Rscript tests/reference/estimators_reference_extra.R
# Writes tests/reference/data/estimators_boundary.csv and
# tests/reference/estimators_reference_extra.json; reads tests/reference/data/birthwt.csv
# (written by models_reference.R from MASS::birthwt, Hosmer & Lemeshow 1989).
#
# Data sources
#   estimators_boundary  simulated here: set.seed(1); 30 groups of 10; x ~ N(0, 1);
#                        y = 0.5 x + N(0, 1), no group effect. With this seed lme4 estimates
#                        the group variance at 0 under both REML and ML (isSingular TRUE).
#   birthwt              as in models_reference.R, plus two deterministic columns made here:
#                        w = 1 + ((row - 1) mod 4) / 2 (artificial design weights 1, 1.5, 2, 2.5)
#                        and bwt3 = bwt cut at 2500 and 3000 g into an ordered 3-level outcome,
#                        and age10 = age / 10, lwt100 = lwt / 100.
#
# polr's Hessian is optim's finite-difference Hessian (step 1e-3 in every parameter), which is
# off by up to 5e-4 relative when a predictor is large (lwt in pounds, age in years): the
# ordered-logit models use age10 (decades) and lwt100 (hundreds of pounds), where its standard
# errors agree with an exact Hessian to about 1e-6. optim's
# default reltol (1e-8) leaves the small age coefficient 1e-4 (relative) from the optimum:
# the polr fits below tighten it to 1e-12.
#
# Weighted polr: sandwich's bread.polr uses polr's n = sum(weights), while estfun has one row per
# observation, so vcovCL on a weighted polr is only right when the weights sum to the number of
# rows. The weights are rescaled to mean 1 for polr here (survey weights' scale is arbitrary; the
# Python code is invariant to it and the test passes the unscaled w).
suppressPackageStartupMessages({
  library(lme4)
  library(sandwich)
  library(MASS)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
ddir <- file.path(here, "data")

named <- function(v) as.list(setNames(as.numeric(v), names(v)))
se_of <- function(V) named(sqrt(diag(as.matrix(V))))

# ---------------------------------------------------------------------------------------------
# boundary fit
set.seed(1)
bd <- data.frame(g = rep(1:30, each = 10), x = rnorm(300))
bd$y <- 0.5 * bd$x + rnorm(300)
write.csv(bd, file.path(ddir, "estimators_boundary.csv"), row.names = FALSE)
bd <- read.csv(file.path(ddir, "estimators_boundary.csv"))
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
boundary <- list()
for (reml in c(TRUE, FALSE)) {
  m <- suppressMessages(lmer(y ~ x + (1 | g), data = bd, REML = reml, control = ctrl))
  vc <- as.data.frame(VarCorr(m))
  boundary[[if (reml) "REML" else "ML"]] <- list(
    is_singular = isSingular(m), fixef = named(fixef(m)), se = se_of(vcov(m)),
    var_intercept = vc$vcov[1], residual_var = vc$vcov[2], logLik = as.numeric(logLik(m)),
    AIC = AIC(m), BIC = BIC(m))
}

# ---------------------------------------------------------------------------------------------
# birthwt: survey-weighted logit and ordered logit, predictions, standardised coefficients
bw <- read.csv(file.path(ddir, "birthwt.csv"))
bw$race <- factor(bw$race, levels = 1:3, labels = c("white", "black", "other"))
bw$w <- 1 + ((seq_len(nrow(bw)) - 1) %% 4) / 2
bw$bwt3 <- cut(bw$bwt, c(-Inf, 2500, 3000, Inf), labels = c("low", "mid", "high"),
               ordered_result = TRUE)

# pseudo-ML logit with design weights (quasibinomial: no warning for non-integer counts; the
# dispersion cancels in the sandwich)
gw <- glm(low ~ age + lwt + race + smoke, family = quasibinomial, data = bw, weights = w)
logit_weighted <- list(
  coef = named(coef(gw)),
  se_HC0 = se_of(vcovHC(gw, type = "HC0")),
  se_HC1 = se_of(vcovHC(gw, type = "HC1")),
  se_CL_grp_HC1 = se_of(vcovCL(gw, cluster = ~grp, type = "HC1")),
  se_CL_grp_HC0 = se_of(vcovCL(gw, cluster = ~grp, type = "HC0"))
)

bw$age10 <- bw$age / 10
bw$lwt100 <- bw$lwt / 100
bw$w_mean1 <- bw$w / mean(bw$w)
# polr's starting values come from a binomial glm.fit with these weights, which warns
# "non-integer #successes in a binomial glm!": harmless, the start values are not the estimates
pw <- polr(bwt3 ~ age10 + lwt100 + race + smoke, data = bw, weights = w_mean1, Hess = TRUE,
           control = list(reltol = 1e-12, maxit = 1000))
polr_weighted <- list(
  coef = named(coef(pw)), zeta = named(pw$zeta),
  se_CL_grp_HC1 = se_of(vcovCL(pw, cluster = ~grp, type = "HC1")),
  se_HC0 = se_of(sandwich(pw))
)
pu <- polr(bwt3 ~ age10 + lwt100 + race + smoke, data = bw, Hess = TRUE,
           control = list(reltol = 1e-12, maxit = 1000))
polr_unweighted <- list(coef = named(coef(pu)), zeta = named(pu$zeta), se = se_of(vcov(pu)),
                        logLik = as.numeric(logLik(pu)))

# predictions: other covariates at their sample mean
lmi <- lm(bwt ~ age * race + smoke, data = bw)
grid_lm <- expand.grid(age = c(20, 30), race = levels(bw$race))
grid_lm$race <- factor(grid_lm$race, levels = levels(bw$race))
grid_lm$smoke <- mean(bw$smoke)
p_lm <- predict(lmi, newdata = grid_lm, interval = "confidence", se.fit = TRUE)
pred_lm <- list(age = grid_lm$age, race = as.character(grid_lm$race), smoke = grid_lm$smoke,
                fit = unname(p_lm$fit[, "fit"]), se = unname(p_lm$se.fit),
                lwr = unname(p_lm$fit[, "lwr"]), upr = unname(p_lm$fit[, "upr"]))

gl <- glm(low ~ age * smoke + lwt, family = binomial, data = bw)
grid_gl <- expand.grid(age = c(20, 30), smoke = c(0, 1))
grid_gl$lwt <- mean(bw$lwt)
p_gl <- predict(gl, newdata = grid_gl, type = "link", se.fit = TRUE)
z <- qnorm(0.975)
pred_glm <- list(age = grid_gl$age, smoke = grid_gl$smoke,
                 prob = unname(plogis(p_gl$fit)),
                 lwr = unname(plogis(p_gl$fit - z * p_gl$se.fit)),
                 upr = unname(plogis(p_gl$fit + z * p_gl$se.fit)))

# standardised coefficients: outcome and continuous predictors z-scored, the 0/1 smoke kept
ls <- lm(scale(bwt) ~ scale(age) + scale(lwt) + smoke, data = bw)
standardized <- list(
  coef = setNames(as.list(unname(coef(ls))), c("Intercept", "age", "lwt", "smoke")),
  se = setNames(as.list(unname(sqrt(diag(vcov(ls))))), c("Intercept", "age", "lwt", "smoke")))

pk <- c("lme4", "Matrix", "sandwich", "MASS", "jsonlite")
out <- list(
  meta = list(
    generated_by = "tests/reference/estimators_reference_extra.R",
    r_version = R.version.string,
    packages = lapply(setNames(pk, pk), function(p) as.character(packageVersion(p))),
    data = list(
      estimators_boundary = "simulated in this script (set.seed(1)) -> data/estimators_boundary.csv",
      birthwt = "data/birthwt.csv (MASS::birthwt) with w = 1 + ((row - 1) mod 4) / 2, bwt3 = cut(bwt, c(-Inf, 2500, 3000, Inf)), age10 = age / 10, lwt100 = lwt / 100"
    )
  ),
  boundary = boundary,
  logit_weighted = logit_weighted,
  polr_weighted = polr_weighted,
  polr_unweighted = polr_unweighted,
  predict_lm = pred_lm,
  predict_glm = pred_glm,
  standardized = standardized
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(here, "estimators_reference_extra.json"))
cat("wrote", file.path(here, "estimators_reference_extra.json"), "\n")
