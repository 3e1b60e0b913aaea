#!/usr/bin/env Rscript
# Reference numbers for the models stage, computed with R's lme4, sandwich, MASS and stats on
# public data those packages ship. The Python tests read only the JSON and the CSVs; they
# never need R.
#
# Run from the repository root:   Rscript tests/reference/models_reference.R
# Writes tests/reference/data/{sleepstudy,petersen_cl,housing,birthwt}.csv and
# tests/reference/models_reference.json.
#
# Data sources
#   sleepstudy  lme4::sleepstudy. Belenky et al. (2003), J Sleep Res 12:1-12; 18 subjects x 10 days.
#   PetersenCL  sandwich::PetersenCL. Petersen (2009), Rev Financ Stud 22:435-480; simulated
#               firm-year panel, 500 firms x 10 years. Column w (added here, deterministic):
#               w = 1 + ((row - 1) mod 3) for row = 1..5000, i.e. 1, 2, 3, 1, 2, 3, ...
#   housing     MASS::housing. Madsen (1976), Scand J Statist 3:97-106; Copenhagen housing
#               satisfaction, 72 cells with frequencies (1681 respondents).
#   birthwt     MASS::birthwt. Hosmer & Lemeshow (1989), Applied Logistic Regression; Baystate
#               Medical Center 1986, 189 births. Column grp (added here, deterministic and
#               artificial, only to exercise the clustered-variance formula):
#               grp = (row - 1) mod 20, 20 groups.
suppressPackageStartupMessages({
  library(lme4)
  library(sandwich)
  library(MASS)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
ddir <- file.path(here, "data")
dir.create(ddir, showWarnings = FALSE)

named <- function(v) as.list(setNames(as.numeric(v), names(v)))
se_of <- function(V) named(sqrt(diag(as.matrix(V))))
mat <- function(V) {
  V <- as.matrix(V)
  list(names = I(rownames(V)), values = unname(lapply(seq_len(nrow(V)), function(i) as.numeric(V[i, ]))))
}

# ---------------------------------------------------------------------------------------------
# lme4: sleepstudy
data(sleepstudy, package = "lme4")
write.csv(sleepstudy, file.path(ddir, "sleepstudy.csv"), row.names = FALSE)
ss <- read.csv(file.path(ddir, "sleepstudy.csv"))
ss$Subject <- factor(ss$Subject)

lmer_summary <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  comps <- list()
  for (i in seq_len(nrow(vc))) {
    key <- if (vc$grp[i] == "Residual") "residual_var"
           else if (is.na(vc$var2[i])) paste0("var_", vc$var1[i])
           else paste0("cov_", vc$var1[i], "_", vc$var2[i])
    comps[[key]] <- vc$vcov[i]
    if (!is.na(vc$var2[i])) comps[[paste0("cor_", vc$var1[i], "_", vc$var2[i])]] <- vc$sdcor[i]
  }
  ll <- logLik(m)
  list(
    formula = paste(deparse(formula(m)), collapse = ""),
    REML = isREML(m),
    nobs = nobs(m),
    fixef = named(fixef(m)),
    se = se_of(vcov(m)),
    vcov_fixef = mat(vcov(m)),
    var_components = comps,
    logLik = as.numeric(ll), df = attr(ll, "df"),
    AIC = AIC(m), BIC = BIC(m),
    deviance_or_REMLcrit = if (isREML(m)) as.numeric(REMLcrit(m)) else deviance(m)
  )
}

ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
sleep <- list()
for (reml in c(TRUE, FALSE)) {
  tag <- if (reml) "REML" else "ML"
  sleep[[paste0("intercept_", tag)]] <- lmer_summary(
    lmer(Reaction ~ Days + (1 | Subject), data = ss, REML = reml, control = ctrl))
  sleep[[paste0("slope_", tag)]] <- lmer_summary(
    lmer(Reaction ~ Days + (Days | Subject), data = ss, REML = reml, control = ctrl))
  m0 <- lmer(Reaction ~ 1 + (1 | Subject), data = ss, REML = reml, control = ctrl)
  s0 <- lmer_summary(m0)
  tau2 <- s0$var_components[["var_(Intercept)"]]
  s0$icc <- tau2 / (tau2 + s0$var_components$residual_var)
  sleep[[paste0("null_", tag)]] <- s0
}
m_lm <- lm(Reaction ~ Days, data = ss)
m_ri <- lmer(Reaction ~ Days + (1 | Subject), data = ss, REML = FALSE, control = ctrl)
lr <- 2 * (as.numeric(logLik(m_ri)) - as.numeric(logLik(m_lm)))
sleep$lrt_random_intercept_vs_lm_ML <- list(
  description = "lmer(Reaction ~ Days + (1|Subject), REML = FALSE) against lm(Reaction ~ Days); ML log-likelihoods",
  logLik_lm = as.numeric(logLik(m_lm)), logLik_lmer = as.numeric(logLik(m_ri)),
  lr_stat = lr, df = 1,
  p_chisq1 = pchisq(lr, 1, lower.tail = FALSE),
  p_boundary_mixture = 0.5 * pchisq(lr, 1, lower.tail = FALSE)
)

# ---------------------------------------------------------------------------------------------
# sandwich: PetersenCL, OLS with classical, HC1 and firm-clustered (CR1) variances
data(PetersenCL, package = "sandwich")
pc <- PetersenCL
pc$w <- 1 + ((seq_len(nrow(pc)) - 1) %% 3)
write.csv(pc, file.path(ddir, "petersen_cl.csv"), row.names = FALSE)
pc <- read.csv(file.path(ddir, "petersen_cl.csv"))

ols_summary <- function(m) {
  list(
    coef = named(coef(m)),
    se_classical = se_of(vcov(m)),
    se_HC1 = se_of(vcovHC(m, type = "HC1")),
    se_HC0 = se_of(vcovHC(m, type = "HC0")),
    se_CL_firm_HC1 = se_of(vcovCL(m, cluster = ~firm, type = "HC1")),
    se_CL_firm_HC0 = se_of(vcovCL(m, cluster = ~firm, type = "HC0")),
    se_CL_firm_year_HC1 = se_of(vcovCL(m, cluster = ~firm + year, type = "HC1", multi0 = FALSE)),
    vcov_CL_firm_HC1 = mat(vcovCL(m, cluster = ~firm, type = "HC1")),
    nobs = nobs(m), n_clusters_firm = length(unique(pc$firm)),
    sigma = summary(m)$sigma, r_squared = summary(m)$r.squared
  )
}
petersen <- list(
  notes = paste("vcovCL type HC1 = G/(G-1) * (N-1)/(N-K) (Stata's regress, vce(cluster)); type HC0 =",
                "G/(G-1) only (cadjust = TRUE); vcovHC HC1 = N/(N-K). Two-way firm+year with multi0 = FALSE."),
  ols = ols_summary(lm(y ~ x, data = pc)),
  wls = ols_summary(lm(y ~ x, data = pc, weights = w))
)

# ---------------------------------------------------------------------------------------------
# MASS: polr on housing (frequency weights); cluster-robust on the expanded data
hs <- housing
write.csv(hs, file.path(ddir, "housing.csv"), row.names = FALSE)
hs <- read.csv(file.path(ddir, "housing.csv"))
hs$Sat <- factor(hs$Sat, levels = c("Low", "Medium", "High"), ordered = TRUE)
hs$Infl <- factor(hs$Infl, levels = c("Low", "Medium", "High"))
hs$Type <- factor(hs$Type, levels = c("Tower", "Apartment", "Atrium", "Terrace"))
hs$Cont <- factor(hs$Cont, levels = c("Low", "High"))
pm <- polr(Sat ~ Infl + Type + Cont, weights = Freq, data = hs, Hess = TRUE, method = "logistic")
V <- vcov(pm)
# individual-level data: each housing row repeated Freq times, in row order; cell = the
# Infl x Type x Cont pattern (24 cells, numbered by first appearance)
long <- hs[rep(seq_len(nrow(hs)), hs$Freq), c("Sat", "Infl", "Type", "Cont")]
long$cell <- match(interaction(long$Infl, long$Type, long$Cont, drop = TRUE),
                   unique(interaction(long$Infl, long$Type, long$Cont, drop = TRUE)))
pl <- polr(Sat ~ Infl + Type + Cont, data = long, Hess = TRUE, method = "logistic")
polr_ref <- list(
  parameterisation = "logit P(Sat <= k) = zeta_k - x'beta (MASS::polr)",
  coef = named(coef(pm)), zeta = named(pm$zeta),
  se = se_of(V),
  logLik = as.numeric(logLik(pm)), deviance = deviance(pm), AIC = AIC(pm),
  nobs_weighted = sum(hs$Freq),
  expanded = list(
    description = "housing rows repeated Freq times (1681 respondents), unweighted polr; cluster = the 24 Infl x Type x Cont cells numbered by first appearance",
    coef = named(coef(pl)), zeta = named(pl$zeta), se = se_of(vcov(pl)),
    logLik = as.numeric(logLik(pl)),
    se_HC0 = se_of(sandwich(pl)),
    se_CL_cell_HC0 = se_of(vcovCL(pl, cluster = long$cell, type = "HC0")),
    se_CL_cell_HC1 = se_of(vcovCL(pl, cluster = long$cell, type = "HC1")),
    n_clusters = length(unique(long$cell))
  )
)

# ---------------------------------------------------------------------------------------------
# glm binomial logit on birthwt
bw <- birthwt
bw$grp <- (seq_len(nrow(bw)) - 1) %% 20
write.csv(bw, file.path(ddir, "birthwt.csv"), row.names = FALSE)
bw <- read.csv(file.path(ddir, "birthwt.csv"))
bw$race <- factor(bw$race, levels = 1:3, labels = c("white", "black", "other"))
gm <- glm(low ~ age + lwt + race + smoke, family = binomial, data = bw)
glm_ref <- list(
  formula = "low ~ age + lwt + race + smoke, race a factor with white as reference",
  coef = named(coef(gm)), se = se_of(vcov(gm)),
  logLik = as.numeric(logLik(gm)), AIC = AIC(gm), deviance = deviance(gm), nobs = nobs(gm),
  se_HC0 = se_of(vcovHC(gm, type = "HC0")),
  se_HC1 = se_of(vcovHC(gm, type = "HC1")),
  se_CL_grp_HC0 = se_of(vcovCL(gm, cluster = ~grp, type = "HC0")),
  se_CL_grp_HC1 = se_of(vcovCL(gm, cluster = ~grp, type = "HC1")),
  notes = paste("grp is artificial (row mod 20), only to check the cluster formula. vcovCL HC0 =",
                "G/(G-1) (Stata's logit, vce(cluster)); HC1 additionally (N-1)/(N-K).")
)

pk <- c("lme4", "Matrix", "sandwich", "MASS", "jsonlite")
meta <- list(
  generated_by = "tests/reference/models_reference.R",
  r_version = R.version.string,
  packages = lapply(setNames(pk, pk), function(p) as.character(packageVersion(p))),
  lmer_control = "lmerControl(optimizer = 'bobyqa', optCtrl = list(maxfun = 1e5))",
  data = list(
    sleepstudy = "lme4::sleepstudy (Belenky et al. 2003, J Sleep Res 12:1-12) -> data/sleepstudy.csv",
    petersen_cl = "sandwich::PetersenCL (Petersen 2009, Rev Financ Stud 22:435-480) -> data/petersen_cl.csv; w = 1 + ((row - 1) mod 3) added",
    housing = "MASS::housing (Madsen 1976, Scand J Statist 3:97-106) -> data/housing.csv",
    birthwt = "MASS::birthwt (Hosmer & Lemeshow 1989) -> data/birthwt.csv; grp = (row - 1) mod 20 added (artificial)"
  )
)
writeLines(toJSON(list(meta = meta, sleepstudy = sleep, petersen = petersen, polr_housing = polr_ref,
                       glm_birthwt = glm_ref),
                  auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(here, "models_reference.json"))
cat("wrote", file.path(here, "models_reference.json"), "\n")
