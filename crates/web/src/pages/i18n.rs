//! The panels' words in English and Japanese (seed 002 is Japanese). The
//! language comes from the `__Host-mh_lang` cookie (set by the switch on
//! every page), else from `Accept-Language`.

/// Every text a page shows.
pub struct Tr {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub app: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub login: &'static str,
    pub login_hint: &'static str,
    pub password: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub change_password: &'static str,
    pub must_change: &'static str,
    pub saved: &'static str,
    pub save: &'static str,
    pub clear: &'static str,
    pub your_mailbox: &'static str,
    pub quota: &'static str,
    pub used_of: &'static str,
    pub forwarding: &'static str,
    pub destinations: &'static str,
    pub destinations_hint: &'static str,
    pub keep_copy: &'static str,
    pub no_forwarding: &'static str,
    pub autoreply: &'static str,
    pub subject: &'static str,
    pub body: &'static str,
    pub from_date: &'static str,
    pub until_date: &'static str,
    pub no_autoreply: &'static str,
    pub recent_logins: &'static str,
    pub time: &'static str,
    pub ip: &'static str,
    pub protocol: &'static str,
    pub notices: &'static str,
    pub no_notices: &'static str,
    pub mailboxes: &'static str,
    pub address: &'static str,
    pub kind: &'static str,
    pub status: &'static str,
    pub active: &'static str,
    pub suspended: &'static str,
    pub suspend: &'static str,
    pub resume: &'static str,
    pub delete: &'static str,
    pub add_mailbox: &'static str,
    pub add: &'static str,
    pub search: &'static str,
    pub next_page: &'static str,
    pub aliases: &'static str,
    pub targets: &'static str,
    pub add_alias: &'static str,
    pub billing: &'static str,
    pub billable: &'static str,
    pub holds: &'static str,
    pub no_holds: &'static str,
    pub rule: &'static str,
    pub reason: &'static str,
    pub ends: &'static str,
    pub release: &'static str,
    pub dns_records: &'static str,
    pub domains: &'static str,
    pub domain: &'static str,
    pub contact: &'static str,
    pub add_domain: &'static str,
    pub publish_notice: &'static str,
    pub title: &'static str,
    pub publish: &'static str,
    pub audit: &'static str,
    pub actor: &'static str,
    pub action: &'static str,
    pub object: &'static str,
    pub manage: &'static str,
    pub back: &'static str,
    pub confirm_delete: &'static str,
    pub import_csv: &'static str,
    pub csv_rows: &'static str,
    pub dry_run: &'static str,
    pub import: &'static str,
    pub dry_run_result: &'static str,
    pub import_result: &'static str,
}

pub const EN: Tr = Tr {
    lang: "en",
    other_lang: "ja",
    other_lang_name: "日本語",
    app: "Mail control panel",
    sign_in: "Sign in",
    sign_out: "Sign out",
    login: "Login name",
    login_hint: "Your mail address (name@domain or name%domain), or your admin login.",
    password: "Password",
    current_password: "Current password",
    new_password: "New password",
    change_password: "Change password",
    must_change: "Your password was set for one use only. Choose a new one to continue.",
    saved: "Saved.",
    save: "Save",
    clear: "Turn off",
    your_mailbox: "Your mailbox",
    quota: "Mailbox use",
    used_of: "used of",
    forwarding: "Forwarding",
    destinations: "Forward to (one address per line)",
    destinations_hint: "Mail to this mailbox is sent on to these addresses.",
    keep_copy: "Keep a copy in this mailbox too",
    no_forwarding: "Mail is not forwarded.",
    autoreply: "Automatic reply",
    subject: "Subject",
    body: "Message",
    from_date: "From (date)",
    until_date: "Until (date)",
    no_autoreply: "No automatic reply is set.",
    recent_logins: "Recent sign-ins",
    time: "Time",
    ip: "IP address",
    protocol: "Protocol",
    notices: "Notices",
    no_notices: "No notices.",
    mailboxes: "Mail addresses",
    address: "Address",
    kind: "Kind",
    status: "Status",
    active: "active",
    suspended: "suspended",
    suspend: "Suspend",
    resume: "Resume",
    delete: "Delete",
    add_mailbox: "Add a mailbox",
    add: "Add",
    search: "Search",
    next_page: "Next page",
    aliases: "Aliases",
    targets: "Delivers to (one address per line)",
    add_alias: "Add an alias",
    billing: "Billing",
    billable: "Billable addresses",
    holds: "Holds",
    no_holds: "No account is on hold.",
    rule: "Rule",
    reason: "Reason",
    ends: "Ends",
    release: "Release",
    dns_records: "DNS records to publish",
    domains: "Domains",
    domain: "Domain",
    contact: "Technical contact",
    add_domain: "Add a domain",
    publish_notice: "Publish a notice",
    title: "Title",
    publish: "Publish",
    audit: "Audit log",
    actor: "Who",
    action: "What",
    object: "On",
    manage: "Manage",
    back: "Back",
    confirm_delete: "Delete this mailbox and all its mail?",
    import_csv: "Import mailboxes (CSV)",
    csv_rows: "One mailbox per line",
    dry_run: "Only show what would change",
    import: "Import",
    dry_run_result: "Nothing was changed. This is what the import would do:",
    import_result: "Imported:",
};

pub const JA: Tr = Tr {
    lang: "ja",
    other_lang: "en",
    other_lang_name: "English",
    app: "メール管理画面",
    sign_in: "ログイン",
    sign_out: "ログアウト",
    login: "ログイン名",
    login_hint: "メールアドレス（名前@ドメイン または 名前%ドメイン）、または管理者のログイン名。",
    password: "パスワード",
    current_password: "現在のパスワード",
    new_password: "新しいパスワード",
    change_password: "パスワード変更",
    must_change:
        "このパスワードは一度だけ使えるものです。続けるには新しいパスワードを決めてください。",
    saved: "保存しました。",
    save: "保存",
    clear: "解除",
    your_mailbox: "メールボックス",
    quota: "メールBOXの使用量",
    used_of: "使用 ／ 容量",
    forwarding: "メール転送",
    destinations: "転送先（1行に1アドレス）",
    destinations_hint: "このメールボックスへのメールをこれらのアドレスへ転送します。",
    keep_copy: "このメールボックスにもメールを残す",
    no_forwarding: "転送は設定されていません。",
    autoreply: "自動応答",
    subject: "件名",
    body: "本文",
    from_date: "開始日",
    until_date: "終了日",
    no_autoreply: "自動応答は設定されていません。",
    recent_logins: "最近のログイン",
    time: "日時",
    ip: "IPアドレス",
    protocol: "プロトコル",
    notices: "お知らせ",
    no_notices: "お知らせはありません。",
    mailboxes: "メールアドレス",
    address: "アドレス",
    kind: "種類",
    status: "状態",
    active: "利用中",
    suspended: "停止中",
    suspend: "停止",
    resume: "再開",
    delete: "削除",
    add_mailbox: "メールボックスの追加",
    add: "追加",
    search: "検索",
    next_page: "次のページ",
    aliases: "エイリアス",
    targets: "配送先（1行に1アドレス）",
    add_alias: "エイリアスの追加",
    billing: "課金",
    billable: "課金対象のアドレス数",
    holds: "送信保留",
    no_holds: "送信保留中のアカウントはありません。",
    rule: "規則",
    reason: "理由",
    ends: "終了",
    release: "解除",
    dns_records: "公開するDNSレコード",
    domains: "ドメイン",
    domain: "ドメイン",
    contact: "技術担当者",
    add_domain: "ドメインの追加",
    publish_notice: "お知らせの掲載",
    title: "題名",
    publish: "掲載",
    audit: "操作記録",
    actor: "操作者",
    action: "操作",
    object: "対象",
    manage: "管理",
    back: "戻る",
    confirm_delete: "このメールボックスとすべてのメールを削除しますか？",
    import_csv: "メールボックスの一括登録（CSV）",
    csv_rows: "1行に1メールボックス",
    dry_run: "変更せずに結果だけを表示する",
    import: "登録",
    dry_run_result: "何も変更していません。登録するとこうなります：",
    import_result: "登録しました：",
};

impl Tr {
    /// An operation's error (its text is English) for a person reading
    /// this language: in Japanese, what to check, then the detail.
    pub fn field_error(&self, field: Option<&str>, message: &str) -> String {
        if self.lang != "ja" {
            return message.to_string();
        }
        let what = match field.unwrap_or("") {
            "address" => "アドレスを確認してください。",
            "password" => {
                "パスワードを確認してください（空でない、1024バイト以内、制御文字なし）。"
            }
            "current" => "現在のパスワードが正しくありません。",
            "destinations" => "転送先のアドレスを確認してください。",
            "subject" | "body" | "from" | "until" => "自動応答の入力を確認してください。",
            "alias" | "targets" => "エイリアスの入力を確認してください。",
            "domain" | "contact" => "ドメインの入力を確認してください。",
            "title" => "お知らせの入力を確認してください。",
            _ => "入力を確認してください。",
        };
        format!("{what}（{message}）")
    }
}

/// The language: the cookie's choice, else the first of
/// `Accept-Language` we speak, else English.
pub fn pick(cookie: Option<&str>, accept: Option<&str>) -> &'static Tr {
    match cookie {
        Some("ja") => return &JA,
        Some("en") => return &EN,
        _ => {}
    }
    for part in accept.unwrap_or("").split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag == "ja" || tag.starts_with("ja-") {
            return &JA;
        }
        if tag == "en" || tag.starts_with("en-") {
            return &EN;
        }
    }
    &EN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert_eq!(pick(None, Some("ja-JP,ja;q=0.9,en;q=0.8")).lang, "ja");
        assert_eq!(pick(None, Some("fr, en-GB;q=0.5, ja;q=0.1")).lang, "en");
        assert_eq!(pick(Some("ja"), Some("en")).lang, "ja");
        assert_eq!(pick(None, None).lang, "en");
        assert_eq!(pick(Some("xx"), Some("de")).lang, "en");
    }
}
