//! Domains: add (with its DKIM key, postmaster@ and all@), list, show,
//! change, remove; the records to publish; billing (R-ADDR-8).

use crate::caller::{Caller, Error, PageReq, Role};
use crate::views::{Billing, DnsCheck, DnsRecord, Domain, Page};
use crate::{Admin, Result};
use mailhost_store::address::{normalize_address, normalize_domain};
use mailhost_store::DkimKey;
use serde_json::json;

impl Admin {
    /// Refuses unless the caller manages `domain` (an operator or its
    /// domain admin); the refusal is the same whether or not it exists.
    pub(crate) async fn scope_domain(&self, c: &Caller, action: &str, domain: &str) -> Result<()> {
        if c.manages(domain) {
            Ok(())
        } else {
            Err(self.denied(c, action, domain).await)
        }
    }

    pub(crate) async fn scope_operator(
        &self,
        c: &Caller,
        action: &str,
        object: &str,
    ) -> Result<()> {
        if c.is_operator() {
            Ok(())
        } else {
            Err(self.denied(c, action, object).await)
        }
    }

    pub async fn domain_add(
        &self,
        c: &Caller,
        domain: &str,
        contact: &str,
        package: Option<&str>,
    ) -> Result<Domain> {
        self.scope_operator(c, "domain.add", domain).await?;
        let name = normalize_domain(domain).map_err(Error::field("domain"))?;
        normalize_address(contact).map_err(Error::field("contact"))?;
        // The key is made first (the slow, fallible step), so a failure
        // leaves no domain behind.
        let key = self.new_dkim_key(&name).await?;
        let after = json!({"contact": contact, "package": package});
        self.audited(
            c,
            "domain.add",
            &name,
            None,
            Some(after),
            vec![],
            self.store.domain_add(&name, contact, package),
        )
        .await
        .map_err(|e| match e.message.contains("package") {
            true => e.at("package"),
            false => e,
        })?;
        self.store.dkim_key_set(&key).await?;
        self.domain_get(c, &name).await
    }

    pub async fn domain_get(&self, c: &Caller, domain: &str) -> Result<Domain> {
        let name = normalize_domain(domain).map_err(Error::field("domain"))?;
        self.scope_domain(c, "domain.show", &name).await?;
        self.store
            .domain_get(&name)
            .await?
            .map(Domain::from)
            .ok_or_else(|| Error::not_found(format!("no such domain: {name}")))
    }

    /// The operator's domains, or a domain admin's own.
    pub async fn domain_list(&self, c: &Caller, p: &PageReq) -> Result<Page<Domain>> {
        let limit = p.limit()?;
        let rows = match &c.role {
            Role::Operator => {
                self.store
                    .domain_page(&crate::users::page_query(p, limit))
                    .await?
            }
            Role::DomainAdmin(ds) => {
                let mut ds: Vec<&String> = ds
                    .iter()
                    .filter(|d| p.cursor.as_ref().is_none_or(|c| *d > c))
                    .filter(|d| p.prefix.as_ref().is_none_or(|x| d.starts_with(x.as_str())))
                    .collect();
                ds.sort();
                let mut out = Vec::new();
                for d in ds.into_iter().take(limit + 1) {
                    out.extend(self.store.domain_get(d).await?);
                }
                out
            }
            Role::User(_) => return Err(self.denied(c, "domain.list", "domains").await),
        };
        Ok(Page::of(
            rows.into_iter().map(Domain::from).collect(),
            limit,
            |d| d.domain.clone(),
        ))
    }

    /// Changes the technical contact (where postmaster@ goes) or the
    /// package: the operator's to decide.
    pub async fn domain_set(
        &self,
        c: &Caller,
        domain: &str,
        contact: Option<&str>,
        package: Option<&str>,
    ) -> Result<Domain> {
        let name = normalize_domain(domain).map_err(Error::field("domain"))?;
        self.scope_operator(c, "domain.set", &name).await?;
        if let Some(ct) = contact {
            normalize_address(ct).map_err(Error::field("contact"))?;
        }
        let before = self.domain_get(c, &name).await?;
        self.audited(
            c,
            "domain.set",
            &name,
            Some(json!({"contact": before.contact, "package": before.package})),
            Some(json!({"contact": contact.unwrap_or(&before.contact),
                        "package": package.or(before.package.as_deref())})),
            vec![],
            self.store.domain_set(&name, contact, package),
        )
        .await?;
        self.domain_get(c, &name).await
    }

    pub async fn domain_remove(&self, c: &Caller, domain: &str) -> Result<()> {
        let name = normalize_domain(domain).map_err(Error::field("domain"))?;
        self.scope_operator(c, "domain.remove", &name).await?;
        let before = self.domain_get(c, &name).await?;
        self.audited(
            c,
            "domain.remove",
            &name,
            Some(json!({"contact": before.contact, "package": before.package})),
            None,
            vec![],
            self.store.domain_remove(&name),
        )
        .await
    }

    /// The records to publish (MX, SPF, DKIM, DMARC); makes the DKIM key
    /// if the domain has none yet.
    pub async fn domain_dns(&self, c: &Caller, domain: &str) -> Result<Vec<DnsRecord>> {
        Ok(self
            .dns_wanted(c, domain, "domain.dns")
            .await?
            .into_iter()
            .map(DnsRecord::from)
            .collect())
    }

    async fn dns_wanted(
        &self,
        c: &Caller,
        domain: &str,
        action: &str,
    ) -> Result<Vec<mailhost_mailauth::DnsRecord>> {
        let name = normalize_domain(domain).map_err(Error::field("domain"))?;
        self.scope_domain(c, action, &name).await?;
        if !self.store.is_hosted(&name).await? {
            return Err(Error::not_found(format!("no such domain: {name}")));
        }
        let key = self.dkim_key(&name).await?;
        Ok(mailhost_mailauth::dns_record_list(
            &name,
            &self.config.server.hostname,
            Some(&key),
        ))
    }

    /// What DNS says now of each record to publish: ok, different,
    /// missing, or unknown (no answer within 3 s). Asks
    /// `delivery.dns_server`, or the system's resolvers.
    pub async fn domain_dns_check(&self, c: &Caller, domain: &str) -> Result<Vec<DnsCheck>> {
        let wanted = self.dns_wanted(c, domain, "domain.dns_check").await?;
        let dns = self
            .dns
            .get_or_init(|| {
                mailhost_mailauth::DnsCheck::new(
                    &self.config.delivery.dns_server,
                    std::time::Duration::from_secs(3),
                )
            })
            .as_ref()
            .map_err(|e| Error::internal(format!("DNS: {e}")))?;
        Ok(dns
            .check(&wanted)
            .await
            .into_iter()
            .map(DnsCheck::from)
            .collect())
    }

    /// Billable addresses of one domain, or of every domain the caller
    /// manages.
    pub async fn billing(&self, c: &Caller, domain: Option<&str>) -> Result<Vec<Billing>> {
        let domain = domain
            .map(|d| normalize_domain(d).map_err(Error::field("domain")))
            .transpose()?;
        match (&domain, &c.role) {
            (Some(d), _) => self.scope_domain(c, "billing", d).await?,
            (None, Role::Operator | Role::DomainAdmin(_)) => {}
            (None, Role::User(_)) => return Err(self.denied(c, "billing", "billing").await),
        }
        if let Some(d) = &domain {
            if !self.store.is_hosted(d).await? {
                return Err(Error::not_found(format!("no such domain: {d}")));
            }
        }
        let rows = self.store.billing(domain.as_deref()).await?;
        Ok(rows
            .into_iter()
            .filter(|r| c.manages(&r.domain))
            .map(|r| Billing {
                domain: r.domain,
                mailboxes: r.mailboxes,
                aliases: r.aliases,
                suspended: r.suspended,
                billable: r.billable,
            })
            .collect())
    }

    /// The domain's DKIM key, made (RFC 6376, `dkim.rsa_bits`) if it has
    /// none.
    async fn dkim_key(&self, domain: &str) -> Result<DkimKey> {
        if let Some(k) = self.store.dkim_key(domain).await? {
            return Ok(k);
        }
        let key = self.new_dkim_key(domain).await?;
        self.store.dkim_key_set(&key).await?;
        Ok(key)
    }

    async fn new_dkim_key(&self, domain: &str) -> Result<DkimKey> {
        let (d, sel, bits) = (
            domain.to_string(),
            self.config.dkim.selector.clone(),
            self.config.dkim.rsa_bits,
        );
        tokio::task::spawn_blocking(move || mailhost_mailauth::generate_key(&d, &sel, bits))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map_err(|e| Error::internal(format!("DKIM key for {domain}: {e}")))
    }
}
